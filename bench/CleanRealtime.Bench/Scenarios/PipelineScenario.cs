using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using CleanRealtime.Bench.Driver;
using CleanRealtime.Bench.Reporting;
using CleanRealtime.Bench.Serve;

namespace CleanRealtime.Bench.Scenarios;

/// <summary>One plugin: frames/s through a whole job on the real server, and in a bare loop of the same calls.</summary>
internal sealed record PipelineResult(
    string Plugin,
    int Frames,
    IReadOnlyList<double> ServerFps,
    IReadOnlyList<double> BareFps,
    double ServerPluginMsPerFrame,
    double BarePluginMsPerFrame)
{
    public double ServerMedianFps => Median(ServerFps);

    public double BareMedianFps => Median(BareFps);

    /// <summary>1 − server / bare: the share of throughput the server costs.</summary>
    public double Overhead => 1 - (ServerMedianFps / BareMedianFps);

    private static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>
/// Pipeline: frames/s of each built-in plugin on 640×480 synthetic frames through a whole job on the real server
/// (<c>POST /v1/jobs</c>, one plugin per job; frames/s = frames / (completed_at − started_at)), against a bare loop of the
/// same synthetic source and the plugin's own <see cref="CleanRealtime.Application.Plugins.IPluginSession.Analyze"/>
/// (<see cref="BarePipeline"/>), run inside the same server process. Both include drawing the synthetic frames; the
/// difference is what the server adds (runner, events, result JSON, realtime relay, job projection, SQLite checkpoints).
/// Job and bare runs alternate (and swap order each repetition); the medians are compared.
/// </summary>
internal sealed class PipelineScenario(BenchOptions options, Report report)
{
    private const double TargetOverhead = 0.05;
    private static readonly string[] Plugins = ["player_detection", "ball_detection", "motion_detection", "pitch_detection", "frame_quality"];

    private int Repetitions => options.Quick ? 1 : 3;

    private double SecondsPerRun => options.Quick ? 0.75 : 5;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await using var server = await ServerProcess.StartAsync("real", new ServeSettings(options.MessageBytes, options.QueueCapacity, 100), cancellationToken);

        // JIT, OpenCV's first calls and the database warm up before anything is measured.
        await RunJobAsync(server, Plugins, 5, cancellationToken);

        var results = new List<PipelineResult>();
        foreach (var name in Plugins)
        {
            var calibration = await RunBareAsync(server, name, options.Quick ? 3 : 10, cancellationToken);
            var frames = (int)Math.Clamp(Math.Round(calibration.Fps * SecondsPerRun), options.Quick ? 5 : 30, options.Quick ? 300 : 3000);

            var serverFps = new List<double>();
            var bareFps = new List<double>();
            double serverPluginMs = 0, barePluginMs = 0;
            for (var i = 0; i < Repetitions; i++)
            {
                // Job first on even runs, bare first on odd ones: neither side always gets the warmer caches.
                foreach (var jobTurn in i % 2 == 0 ? new[] { true, false } : [false, true])
                {
                    if (jobTurn)
                    {
                        var job = await RunJobAsync(server, [name], frames, cancellationToken);
                        serverFps.Add(job.Fps);
                        serverPluginMs += job.PluginMsPerFrame / Repetitions;
                    }
                    else
                    {
                        var bare = await RunBareAsync(server, name, frames, cancellationToken);
                        bareFps.Add(bare.Fps);
                        barePluginMs += bare.PluginMsPerFrame / Repetitions;
                    }
                }
            }

            var result = new PipelineResult(name, frames, serverFps, bareFps, serverPluginMs, barePluginMs);
            results.Add(result);
            Console.WriteLine(
                $"  {name,-17} {frames,5} frames: server {Fmt.N(result.ServerMedianFps, 1),7} fps, bare {Fmt.N(result.BareMedianFps, 1),7} fps, " +
                $"overhead {Fmt.Pct(result.Overhead)}");
        }

        Publish(results);
    }

    private void Publish(List<PipelineResult> results)
    {
        var table = new Table(
            "Pipeline: frames/s per plugin, 640×480 synthetic frames",
            "plugin", "frames/run", "server fps", "bare fps", "overhead", "plugin ms/frame in job", "plugin ms/frame bare")
        {
            Note = $"Median of {Repetitions} runs each, alternating job/bare (order swapped every repetition), in the same server process. Server: a whole job, " +
                   "frames / (completed_at − started_at). Bare: the same synthetic source and IPluginSession.Analyze in a plain loop. " +
                   "Both draw the frames. Overhead = 1 − server fps / bare fps.",
        };
        foreach (var r in results)
        {
            table.Add(r.Plugin, Fmt.I(r.Frames), Fmt.N(r.ServerMedianFps, 1), Fmt.N(r.BareMedianFps, 1), Fmt.Pct(r.Overhead),
                Fmt.N(r.ServerPluginMsPerFrame, 2), Fmt.N(r.BarePluginMsPerFrame, 2));
            report.Target(new TargetCheck(
                $"pipeline overhead ≤ 5 % ({r.Plugin})",
                $"{Fmt.Pct(r.Overhead)} ({Fmt.N(r.ServerMedianFps, 1)} vs {Fmt.N(r.BareMedianFps, 1)} fps)",
                double.IsNaN(r.Overhead) ? null : r.Overhead <= TargetOverhead));
        }

        report.Add(table);
        report.Data("pipeline", new { width = 640, height = 480, repetitions = Repetitions, results });
    }

    private static Task<BarePipelineResult> RunBareAsync(ServerProcess server, string plugin, int frames, CancellationToken cancellationToken) =>
        server.PostAsync<BarePipelineResult>(
            string.Create(CultureInfo.InvariantCulture, $"/bench/pipeline?plugin={plugin}&frames={frames}"),
            TimeSpan.FromSeconds(120 + (frames * 2)), cancellationToken);

    private static async Task<(double Fps, double PluginMsPerFrame)> RunJobAsync(
        ServerProcess server, IReadOnlyList<string> plugins, int frames, CancellationToken cancellationToken)
    {
        using var response = await server.Http.PostAsJsonAsync(
            "/v1/jobs", new { source = BarePipeline.Source(frames), device_requested = "cpu", plugins }, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/jobs answered {(int)response.StatusCode}: {body}");
        }

        using var created = JsonDocument.Parse(body);
        var id = created.RootElement.GetProperty("job_id").GetString()!;

        // Poll the list (no frames in it) so that polling costs the running job as little as possible.
        var deadline = Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(120 + (frames * 2));
        while (true)
        {
            using var list = JsonDocument.Parse(await server.Http.GetStringAsync(new Uri("/v1/jobs?limit=5", UriKind.Relative), cancellationToken));
            var job = list.RootElement.GetProperty("items").EnumerateArray().FirstOrDefault(j => j.GetProperty("job_id").GetString() == id);
            var status = job.ValueKind == JsonValueKind.Object ? job.GetProperty("status").GetString() : null;
            if (status is "completed")
            {
                break;
            }

            if (status is "failed" or "cancelled" || deadline.Elapsed > timeout)
            {
                throw new InvalidOperationException($"job {id} ({string.Join(',', plugins)}) ended {status ?? "unseen"}: {job}");
            }

            await Task.Delay(200, cancellationToken);
        }

        using var extended = JsonDocument.Parse(await server.Http.GetStringAsync(new Uri($"/v1/jobs/{id}/extended", UriKind.Relative), cancellationToken));
        var root = extended.RootElement;
        var seconds = (root.GetProperty("completed_at").GetDateTime() - root.GetProperty("started_at").GetDateTime()).TotalSeconds;
        var pluginMs = root.TryGetProperty("plugin_timings", out var timings) && timings.ValueKind == JsonValueKind.Object
            ? timings.EnumerateObject().Sum(t => t.Value.GetDouble())
            : double.NaN;
        return (frames / seconds, pluginMs / frames);
    }
}
