using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>
/// <c>scripts/run-cluster.sh</c> as the README tells an operator to run it, so that it cannot break unnoticed again (a
/// merge once lost the lines that start Redis): 2 nodes on real PostgreSQL and Redis in Docker, every port on 127.0.0.1;
/// a job submitted to one node is read complete from the other, and SIGTERM stops the nodes and removes the containers.
/// The script runs the server this test project built (<c>SERVER_DIR</c>) instead of building it again.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RunClusterScriptTests : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    private readonly string _work = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));
    private readonly string _name = "test-" + Guid.NewGuid().ToString("N")[..12];
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _script;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        // Whatever happened above: nothing of the cluster outlives the test.
        if (_script is { HasExited: false })
        {
            Signal(_script.Id, "KILL");
            await _script.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        foreach (var line in _output.Where(l => l.StartsWith("node", StringComparison.Ordinal) && l.Contains("pid=", StringComparison.Ordinal)))
        {
            Signal(int.Parse(line[(line.LastIndexOf("pid=", StringComparison.Ordinal) + 4)..], CultureInfo.InvariantCulture), "KILL");
        }

        if (PostgresContainer.Enabled)
        {
            await RunAsync("docker", $"rm -f cleanrealtime-pg-{_name} cleanrealtime-redis-{_name}");
        }

        _script?.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [SkippableFact]
    public async Task RunCluster_TwoNodes_JobSubmittedToOneIsReadCompleteFromTheOther_AndSigtermStopsEverything()
    {
        Skip.IfNot(PostgresContainer.Enabled, PostgresContainer.SkipReason);
        var basePort = FreePorts(2);
        var (pgPort, redisPort) = (FreePorts(1), FreePorts(1));
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _work,
            Environment =
            {
                ["BASE_PORT"] = basePort.ToString(CultureInfo.InvariantCulture),
                ["PG_PORT"] = pgPort.ToString(CultureInfo.InvariantCulture),
                ["REDIS_PORT"] = redisPort.ToString(CultureInfo.InvariantCulture),
                ["CLUSTER_DIR"] = Path.Combine(_work, "cluster"),
                ["MEDIA_ROOT"] = Path.Combine(_work, "media"),
                ["SERVER_DIR"] = AppContext.BaseDirectory,
                ["CLUSTER_NAME"] = _name,
            },
        };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "scripts", "run-cluster.sh"));
        start.ArgumentList.Add("2");
        _script = Process.Start(start)!;
        _script.OutputDataReceived += (_, e) => Keep(e.Data);
        _script.ErrorDataReceived += (_, e) => Keep(e.Data);
        _script.BeginOutputReadLine();
        _script.BeginErrorReadLine();

        var clock = Stopwatch.StartNew();
        while (!_output.Contains("run-cluster: ready"))
        {
            Assert.False(_script.HasExited, $"run-cluster.sh exited with {(_script.HasExited ? _script.ExitCode : 0)} before it was ready:\n{Output()}");
            Assert.True(clock.Elapsed < StartTimeout, $"run-cluster.sh was not ready within {StartTimeout}:\n{Output()}");
            await Task.Delay(200);
        }

        Assert.Contains(_output, l => l.StartsWith($"node1  http://127.0.0.1:{basePort}  roles=api,worker", StringComparison.Ordinal));
        Assert.Contains(_output, l => l.StartsWith($"node2  http://127.0.0.1:{basePort + 1}  roles=api ", StringComparison.Ordinal));
        var node1 = new Uri($"http://127.0.0.1:{basePort}");
        var node2 = new Uri($"http://127.0.0.1:{basePort + 1}");
        using var http1 = new HttpClient { BaseAddress = node1, Timeout = TimeSpan.FromSeconds(30) };
        using var http2 = new HttpClient { BaseAddress = node2, Timeout = TimeSpan.FromSeconds(30) };

        // Submitted to the api-only node 2, run by node 1 (the only worker); its live messages reach node 2 through Redis.
        using var response = await http2.PostAsync("/v1/jobs", new StringContent(
            $$"""{"source":"{{ServerFixture.Synthetic(20, width: 64, height: 64)}}","plugins":["frame_quality"]}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var jobId = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("job_id").GetGuid();
        await using var stream = await SseClient.ConnectAsync(node2, $"job_id={jobId}&since=0");
        var streamed = await stream.ReceiveJobAsync(jobId, TimeSpan.FromSeconds(90));

        // Read complete from node 1: the job, and its history as node 1 serves it, is what node 2 streamed.
        var job = System.Text.Json.JsonDocument.Parse(await http1.GetStringAsync($"/v1/jobs/{jobId}/extended")).RootElement;
        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.Equal(20, job.GetProperty("frames").GetArrayLength());
        var events = System.Text.Json.JsonDocument.Parse(await http1.GetStringAsync($"/v1/jobs/{jobId}/events?since=0&limit=1000")).RootElement;
        Assert.True(events.GetProperty("finished").GetBoolean());
        var stored = events.GetProperty("items").EnumerateArray().Select(e => e.GetRawText()).ToList();
        Assert.Equal(Enumerable.Range(1, streamed.Count).Select(i => (long?)i), streamed.Select(m => m.Seq));
        Assert.Equal(stored.Select(ReceivedMessage.Parse).Select(m => m.Seq), streamed.Select(m => m.Seq));
        Assert.Equal(stored.Select(ReceivedMessage.Parse).Select(m => m.Type), streamed.Select(m => m.Type));

        // SIGTERM (as Ctrl-C's cousin from a service manager): the script stops both nodes and removes both containers.
        Signal(_script.Id, "TERM");
        using (var stopped = new CancellationTokenSource(StopTimeout))
        {
            await _script.WaitForExitAsync(stopped.Token);
        }

        Assert.True(_output.Contains("run-cluster: stopped"), Output());
        Assert.Equal(143, _script.ExitCode);
        Assert.Equal(string.Empty, (await RunAsync("docker", $"ps -aq --filter name={_name}")).Trim());
        foreach (var port in new[] { basePort, basePort + 1, pgPort, redisPort })
        {
            Assert.False(IsListening(port), $"something still listens on 127.0.0.1:{port}");
        }
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    private string Output() => string.Join('\n', _output.TakeLast(60));

    /// <summary>Sends a signal by name (TERM, KILL) to a process; one that is already gone is fine.</summary>
    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {pid}") { RedirectStandardError = true })!;
        kill.WaitForExit(5_000);
    }

    private static async Task<string> RunAsync(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(deadline.Token);
        await process.WaitForExitAsync(deadline.Token);
        return output;
    }

    private static bool IsListening(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first of <paramref name="count"/> consecutive free ports on 127.0.0.1 (free when probed).</summary>
    private static int FreePorts(int count)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var first = Random.Shared.Next(20_000, 40_000);
            var listeners = new List<TcpListener>();
            try
            {
                for (var i = 0; i < count; i++)
                {
                    var listener = new TcpListener(IPAddress.Loopback, first + i);
                    listener.Start();
                    listeners.Add(listener);
                }

                return first;
            }
            catch (SocketException)
            {
                // Taken: try another range.
            }
            finally
            {
                listeners.ForEach(l => l.Stop());
            }
        }

        throw new InvalidOperationException("no free ports found on 127.0.0.1");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CleanRealtime.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the repository root (CleanRealtime.sln) was not found above " + AppContext.BaseDirectory);
    }
}
