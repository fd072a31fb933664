using System.Diagnostics;
using System.Globalization;
using CleanRealtime.Bench.Driver;
using CleanRealtime.Bench.Reporting;

namespace CleanRealtime.Bench.Scenarios;

/// <summary>One burst to every client of one server, and what arrived.</summary>
internal sealed record PeerStep(
    string Server,
    string Case,
    int Repetition,
    int Clients,
    long Count,
    long Delivered,
    long Missing,
    double DeliveriesPerSecond,
    double P50Ms,
    double P99Ms,
    double ServerCpuMs,
    double CpuMicrosecondsPerDelivery,
    long Untimed);

/// <summary>
/// Issue 11: the project against two reference servers (<c>../shared/peers</c>: an ASP.NET Core SignalR hub and a plain
/// Kestrel WebSocket broadcaster), same machine, same run, same client. The peers are copied to a temp folder, built
/// there and run as child processes beside <c>serve --kind real --queue-capacity 4096</c>; three cases (5 clients as fast
/// as possible, 100 clients × 1000 msg/s, 5 clients × 1000 msg/s) run against the three servers interleaved (the order
/// rotates with each repetition), 5 repetitions (--repetitions), medians. Server CPU per delivery = CPU time of the server process over
/// the step / deliveries; latency = the envelope's <c>timestamp</c> (set by each server when it builds the message) to
/// <see cref="DateTime.UtcNow"/> at receipt.
/// </summary>
internal sealed class PeersScenario(BenchOptions options, Report report)
{
    private const string Project = "project";
    private const string SignalR = "SignalR";
    private const string Plain = "plain Kestrel";
    private const int QueueCapacity = 4096;
    private const double ProjectFullSpeed = 10_000_000;
    private const int FewClients = 5;

    private static readonly string[] Servers = [Project, SignalR, Plain];

    private int _run;

    private sealed record Case(string Name, string Key, int Clients, long Count, double? Rate);

    private int Repetitions => options.Repetitions ?? (options.Quick ? 1 : 5);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Case[] all =
        [
            new Case($"{FewClients} clients, {Fmt.I(Scaled(50_000))} messages as fast as possible", "full", FewClients, Scaled(50_000), null),
            new Case($"100 clients × 1,000 msg/s ({Fmt.I(Scaled(5000))} messages)", "100x1000", 100, Scaled(5000), 1000),
            new Case($"{FewClients} clients × 1,000 msg/s ({Fmt.I(Scaled(5000))} messages)", "5x1000", FewClients, Scaled(5000), 1000),
        ];
        var cases = all.Where(c => options.PeerCases.Contains(c.Key)).ToArray();

        var root = Directory.CreateTempSubdirectory("cleanrealtime-peers-");
        var steps = new List<(Case Case, PeerStep Step)>();
        try
        {
            var (plainDll, signalRDll) = await BuildPeersAsync(root.FullName, cancellationToken);
            await using var project = await ServerProcess.StartAsync(
                "real", new ServeSettings(options.MessageBytes, QueueCapacity, MaxConnections: 2000), cancellationToken);
            await using var signalR = await ServerProcess.StartExternalAsync(SignalR, signalRDll, [], "/stats", cancellationToken);
            await using var plain = await ServerProcess.StartExternalAsync(
                Plain, plainDll, [$"--Broadcast:Capacity={QueueCapacity.ToString(CultureInfo.InvariantCulture)}"], "/stats", cancellationToken);
            Console.WriteLine($"  servers: project pid {project.Pid}, SignalR pid {signalR.Pid}, plain Kestrel pid {plain.Pid}");

            var servers = new Dictionary<string, ServerProcess> { [Project] = project, [SignalR] = signalR, [Plain] = plain };
            foreach (var c in cases)
            {
                await RunCaseAsync(c, servers, steps, cancellationToken);
            }
        }
        finally
        {
            if (steps.Count > 0)
            {
                Publish(cases, steps);
            }

            try
            {
                root.Delete(recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"  could not delete {root.FullName}: {ex.Message}");
            }
        }
    }

    private long Scaled(long count) => options.Quick ? count / 5 : count;

    private async Task RunCaseAsync(
        Case c, Dictionary<string, ServerProcess> servers, List<(Case, PeerStep)> steps, CancellationToken cancellationToken)
    {
        Console.WriteLine($"  {c.Name}");
        var clients = new Dictionary<string, List<PeerClient>>();
        try
        {
            foreach (var name in Servers)
            {
                clients[name] = await ConnectAsync(servers[name], name, c.Clients, cancellationToken);
            }

            // JIT (up to tier 1: call counting starts once no new method has been compiled for 100 ms), pools and socket
            // buffers warm before anything is measured: three whole steps at full speed, 2 s at 1000 msg/s.
            for (var warm = 0; warm < (c.Rate is null ? 3 : 1); warm++)
            {
                foreach (var name in Servers)
                {
                    var count = c.Rate is null ? c.Count : Math.Min(c.Count, Scaled(2000));
                    await StepAsync(name, servers[name], clients[name], c with { Count = count }, 0, cancellationToken);
                }
            }

            for (var rep = 1; rep <= Repetitions; rep++)
            {
                for (var i = 0; i < Servers.Length; i++)
                {
                    var name = Servers[(i + rep - 1) % Servers.Length];
                    steps.Add((c, await StepAsync(name, servers[name], clients[name], c, rep, cancellationToken)));
                }
            }
        }
        finally
        {
            foreach (var list in clients.Values)
            {
                await Task.WhenAll(list.Select(client => client.DisposeAsync().AsTask()));
            }
        }
    }

    private static async Task<List<PeerClient>> ConnectAsync(ServerProcess server, string name, int count, CancellationToken cancellationToken)
    {
        var protocol = name == SignalR ? PeerProtocol.SignalR : PeerProtocol.WebSocket;
        var clients = new List<PeerClient>();
        using var gate = new SemaphoreSlim(16);
        var connecting = Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                return await PeerClient.ConnectAsync(server.RealtimeUri, protocol, cancellationToken);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        try
        {
            clients.AddRange(await Task.WhenAll(connecting));
        }
        catch
        {
            foreach (var t in connecting.Where(t => t.IsCompletedSuccessfully))
            {
                await t.Result.DisposeAsync();
            }

            throw;
        }

        // Every client is registered on the server before anything is sent to them.
        var deadline = Stopwatch.StartNew();
        while (await ConnectedAsync(server, name, cancellationToken) < count)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"{name}: {count} clients connected, but the server does not count them all after 30 s");
            }

            await Task.Delay(50, cancellationToken);
        }

        return clients;
    }

    private static async Task<int> ConnectedAsync(ServerProcess server, string name, CancellationToken cancellationToken)
    {
        if (name == Project)
        {
            return (await server.StatsAsync(cancellationToken)).Connections;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        using var response = await server.Http.GetAsync(new Uri("/stats", UriKind.Relative), deadline.Token);
        response.EnsureSuccessStatusCode();
        using var json = await System.Text.Json.JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(deadline.Token), cancellationToken: deadline.Token);
        return json.RootElement.GetProperty("clients").GetInt32();
    }

    private async Task<PeerStep> StepAsync(
        string name, ServerProcess server, List<PeerClient> clients, Case c, int rep, CancellationToken cancellationToken)
    {
        var states = clients.Select(client => client.BeginRun()).ToArray();
        var expected = c.Count * clients.Count;
        var cpuBefore = server.CpuTime;
        var started = Stopwatch.GetTimestamp();
        var trigger = TriggerAsync(name, server, c, cancellationToken);

        // Until every delivery has arrived, or nothing arrived for a second once the server has handed everything over.
        var budget = TimeSpan.FromSeconds(30 + (c.Rate is { } r ? c.Count / r * 2 : c.Count / 10_000.0));
        long lastTotal = -1;
        var lastProgress = Stopwatch.GetTimestamp();
        while (true)
        {
            var total = states.Sum(s => s.Received);
            var now = Stopwatch.GetTimestamp();
            if (total >= expected || Stopwatch.GetElapsedTime(started, now) > budget)
            {
                break;
            }

            if (total != lastTotal)
            {
                (lastTotal, lastProgress) = (total, now);
            }
            else if (trigger.IsCompleted && Stopwatch.GetElapsedTime(lastProgress, now) > TimeSpan.FromSeconds(1))
            {
                break;
            }

            await Task.Delay(5, cancellationToken);
        }

        var cpu = server.CpuTime - cpuBefore;
        await trigger;
        var delivered = states.Sum(s => s.Received);
        var lastAt = states.Max(s => s.LastAt);
        var window = lastAt > started ? Stopwatch.GetElapsedTime(started, lastAt).TotalSeconds : double.NaN;
        var percentiles = LatencyHistogram.PercentilesMs(states.Select(s => s.Latency).ToList(), 0.50, 0.99);
        var step = new PeerStep(
            name, c.Key, rep, clients.Count, c.Count, delivered, expected - delivered, delivered / window, percentiles[0], percentiles[1],
            cpu.TotalMilliseconds, delivered == 0 ? double.NaN : cpu.TotalMicroseconds / delivered, states.Sum(s => s.Untimed));
        Console.WriteLine(
            $"    {(rep == 0 ? "warm-up" : $"rep {rep}"),-7} {name,-13} {Fmt.N(step.DeliveriesPerSecond),11} deliveries/s, missing {Fmt.I(step.Missing),7}, " +
            $"p50 {Fmt.N(step.P50Ms, 2),7} ms, p99 {Fmt.N(step.P99Ms, 2),7} ms, CPU {Fmt.N(step.CpuMicrosecondsPerDelivery, 2),6} µs/delivery");
        await Task.Delay(300, cancellationToken);
        return step;
    }

    /// <summary>
    /// Starts the burst. The project: <c>POST /bench/publish</c> (answers when the last frame is handed over; "as fast as
    /// possible" = rate 10,000,000); the peers: <c>POST /emit</c> (answers 202 at once; rate 0 = as fast as possible).
    /// </summary>
    private Task TriggerAsync(string name, ServerProcess server, Case c, CancellationToken cancellationToken)
    {
        if (name == Project)
        {
            var run = _run = (_run % Wire.BenchFrameId.MaxRun) + 1;
            return server.PublishAsync(run, c.Count, c.Rate ?? ProjectFullSpeed, cancellationToken);
        }

        return EmitAsync(server, c, cancellationToken);
    }

    private async Task EmitAsync(ServerProcess server, Case c, CancellationToken cancellationToken)
    {
        var query = string.Create(
            CultureInfo.InvariantCulture, $"/emit?count={c.Count}&rate={c.Rate ?? 0:R}&size={options.MessageBytes}");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        using var response = await server.Http.PostAsync(new Uri(query, UriKind.Relative), null, deadline.Token);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException(
                $"{server.Kind} answered {(int)response.StatusCode} to {query}: {await response.Content.ReadAsStringAsync(deadline.Token)}");
        }
    }

    /// <summary>Copies the (read-only) peers folder to <paramref name="root"/> and builds both there, output outside it.</summary>
    private async Task<(string Plain, string SignalR)> BuildPeersAsync(string root, CancellationToken cancellationToken)
    {
        var source = Path.GetFullPath(options.PeersDirectory);
        var copy = Path.Combine(root, "src");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            var target = Path.Combine(copy, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        var plain = await BuildAsync(Path.Combine(copy, "rawkestrel", "RawKestrel.csproj"), Path.Combine(root, "out", "raw"), cancellationToken);
        var signalR = await BuildAsync(Path.Combine(copy, "signalr", "SignalRPeer.csproj"), Path.Combine(root, "out", "signalr"), cancellationToken);
        return (Path.Combine(plain, "RawKestrel.dll"), Path.Combine(signalR, "SignalRPeer.dll"));
    }

    private static async Task<string> BuildAsync(string project, string output, CancellationToken cancellationToken)
    {
        Console.WriteLine($"  building {Path.GetFileName(project)}");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(project)!,
        };
        foreach (var arg in new[] { "build", "-c", "Release", project, "-o", output, "-nologo", "-v", "q" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet build");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet build {project} failed ({process.ExitCode}):{Environment.NewLine}{await stdout}{await stderr}");
        }

        return output;
    }

    private void Publish(Case[] cases, List<(Case Case, PeerStep Step)> steps)
    {
        var table = new Table(
            $"Project vs reference peers ({options.MessageBytes}-byte frame messages, queue {Fmt.I(QueueCapacity)}, medians of {Repetitions})",
            "scenario", "server CPU µs/delivery: project", "SignalR", "plain Kestrel", "project/plain", "deliveries/s: project / SignalR / plain",
            "missing (worst rep): project / SignalR / plain", "p50 ms: project / SignalR / plain", "p99 ms: project / SignalR / plain")
        {
            Note = "Server CPU = user+system CPU time of the server process over the step (from the burst's start to its last delivery) / " +
                   "deliveries. Latency = the envelope's `timestamp` (written by each server when it builds the message) to DateTime.UtcNow " +
                   "when the client receives it, over every frame of every client. The project publishes through `POST /bench/publish` " +
                   "(FramePayload → RealtimeMessages.TryCreate → serialize once → IRealtimeBroadcaster.Publish), pausing while a " +
                   "subscriber's queue is full as the peers' emitters do; the peers through `POST /emit`. Servers interleaved, order " +
                   "rotated each repetition.",
        };

        var bySteps = steps.GroupBy(s => (s.Case.Key, s.Step.Server)).ToDictionary(g => g.Key, g => g.Select(x => x.Step).ToList());
        foreach (var c in cases)
        {
            if (!Servers.All(s => bySteps.ContainsKey((c.Key, s))))
            {
                continue;
            }

            double Median(string server, Func<PeerStep, double> figure) => MedianOf(bySteps[(c.Key, server)].Select(figure));
            string Three(Func<PeerStep, double> figure, int decimals) =>
                string.Join(" / ", Servers.Select(s => Fmt.N(Median(s, figure), decimals)));
            long Worst(string server) => bySteps[(c.Key, server)].Max(s => s.Missing);

            var cpu = Servers.ToDictionary(s => s, s => Median(s, x => x.CpuMicrosecondsPerDelivery));
            table.Add(
                c.Name, Fmt.N(cpu[Project], 2), Fmt.N(cpu[SignalR], 2), Fmt.N(cpu[Plain], 2), Fmt.Ratio(cpu[Project] / cpu[Plain]),
                Three(s => s.DeliveriesPerSecond, 0), string.Join(" / ", Servers.Select(s => Fmt.I(Worst(s)))),
                Three(s => s.P50Ms, 2), Three(s => s.P99Ms, 2));

            report.Target(new TargetCheck(
                $"server CPU per delivery ≤ 1.15× plain Kestrel and < SignalR ({c.Name})",
                $"{Fmt.N(cpu[Project], 2)} µs = {Fmt.Ratio(cpu[Project] / cpu[Plain])} plain ({Fmt.N(cpu[Plain], 2)}); SignalR {Fmt.N(cpu[SignalR], 2)}",
                cpu.Values.Any(double.IsNaN) ? null : cpu[Project] <= 1.15 * cpu[Plain] && cpu[Project] < cpu[SignalR]));
            if (c.Rate is null)
            {
                report.Target(new TargetCheck(
                    $"no more deliveries missing than plain Kestrel at full speed ({c.Name})",
                    $"project {Fmt.I(Worst(Project))}, plain {Fmt.I(Worst(Plain))} missing (worst repetition)",
                    Worst(Project) <= Worst(Plain) && Worst(Project) == 0));
            }

            if (c.Key == "100x1000")
            {
                var p99 = Median(Project, s => s.P99Ms);
                report.Target(new TargetCheck(
                    "p99 ≤ 3 ms at 100 clients × 1,000 msg/s (project)",
                    $"p99 {Fmt.N(p99, 2)} ms (SignalR {Fmt.N(Median(SignalR, s => s.P99Ms), 2)}, plain {Fmt.N(Median(Plain, s => s.P99Ms), 2)}); " +
                    $"missing {Fmt.I(Worst(Project))}",
                    double.IsNaN(p99) ? null : p99 <= 3 && Worst(Project) == 0));
            }
        }

        report.Add(table);
        report.Data("peers", new
        {
            message_bytes = options.MessageBytes,
            queue_capacity = QueueCapacity,
            repetitions = Repetitions,
            latency_source = "envelope timestamp vs DateTime.UtcNow at receipt",
            steps = steps.Select(s => s.Step).ToList(),
        });
    }

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
