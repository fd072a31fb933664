using System.Diagnostics;
using CleanRealtime.Bench.Driver;
using CleanRealtime.Bench.Reporting;

namespace CleanRealtime.Bench.Scenarios;

/// <summary>The memory one server kind needed for its idle connections.</summary>
internal sealed record ScaleResult(
    string Kind,
    int Requested,
    int Connected,
    int Welcomed,
    double ConnectSeconds,
    long RssBeforeBytes,
    long RssAfterBytes,
    long GcHeapBeforeBytes,
    long GcHeapAfterBytes,
    long GcCommittedBeforeBytes,
    long GcCommittedAfterBytes,
    int ThreadsBefore,
    int ThreadsAfter)
{
    public double RssKbPerConnection => Per(RssAfterBytes - RssBeforeBytes);

    public double GcHeapKbPerConnection => Per(GcHeapAfterBytes - GcHeapBeforeBytes);

    public double GcCommittedKbPerConnection => Per(GcCommittedAfterBytes - GcCommittedBeforeBytes);

    private double Per(long bytes) => Connected == 0 ? double.NaN : bytes / 1024.0 / Connected;
}

/// <summary>
/// Scale: N idle WebSocket connections (10,000; 500 with --quick) to the real server and to the bare baseline, each a
/// child process. Server memory per connection = (the server's RSS after connecting − before) / N, both read after a
/// forced full, compacting, decommitting GC in the server and a settle pause; the managed heap and the GC's committed
/// bytes are reported beside it.
/// </summary>
internal sealed class ScaleScenario(BenchOptions options, Report report)
{
    private const double TargetKb = 16;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var results = new List<ScaleResult>();
        foreach (var kind in new[] { "real", "bare" })
        {
            results.Add(await MeasureAsync(kind, cancellationToken));
        }

        var table = new Table(
            $"Scale: {Fmt.I(options.Connections)} idle WebSocket connections",
            "server", "connected", "connect/s", "RSS before MB", "RSS after MB", "RSS KB/conn", "GC heap KB/conn", "GC committed KB/conn", "threads")
        {
            Note = "Per connection = (after − before) / connections, measured in the server process after a forced full, compacting, " +
                   "decommitting GC and a settle pause. RSS counts everything the process holds (managed heap, native, stacks); " +
                   "kernel socket buffers are not in it.",
        };
        foreach (var r in results)
        {
            table.Add(r.Kind, $"{Fmt.I(r.Connected)}/{Fmt.I(r.Requested)}", Fmt.N(r.Connected / r.ConnectSeconds),
                Fmt.N(r.RssBeforeBytes / 1048576.0, 1), Fmt.N(r.RssAfterBytes / 1048576.0, 1), Fmt.N(r.RssKbPerConnection, 2),
                Fmt.N(r.GcHeapKbPerConnection, 2), Fmt.N(r.GcCommittedKbPerConnection, 2), $"{r.ThreadsBefore} → {r.ThreadsAfter}");
        }

        var real = results[0];
        var bare = results[1];
        table.Add("**real/bare**", string.Empty, string.Empty, string.Empty, string.Empty,
            Fmt.Ratio(real.RssKbPerConnection / bare.RssKbPerConnection), Fmt.Ratio(real.GcHeapKbPerConnection / bare.GcHeapKbPerConnection),
            Fmt.Ratio(real.GcCommittedKbPerConnection / bare.GcCommittedKbPerConnection), string.Empty);
        report.Add(table);
        report.Target(new TargetCheck(
            $"≤ {Fmt.N(TargetKb)} KB server memory per idle connection",
            $"{Fmt.N(real.RssKbPerConnection, 2)} KB RSS ({Fmt.N(real.GcHeapKbPerConnection, 2)} KB managed heap; bare {Fmt.N(bare.RssKbPerConnection, 2)} KB RSS)",
            real.Connected == real.Requested ? real.RssKbPerConnection <= TargetKb : false,
            real.Connected == real.Requested ? string.Empty : "not every connection was accepted"));
        report.Data("scale", new { connections = options.Connections, results });
    }

    private async Task<ScaleResult> MeasureAsync(string kind, CancellationToken cancellationToken)
    {
        var settings = new ServeSettings(options.MessageBytes, options.QueueCapacity, MaxConnections: options.Connections + 1000);
        await using var server = await ServerProcess.StartAsync(kind, settings, cancellationToken);

        // Warm up the accept path (JIT, pools) with a few connections, then let them go.
        var (warm, _) = await ClientPool.ConnectAsync(server.RealtimeUri, Math.Min(100, options.Connections), 32, 1024, cancellationToken);
        await ClientPool.WaitWelcomedAsync(warm, TimeSpan.FromSeconds(20), cancellationToken);
        await ClientPool.CloseAsync(warm);
        await server.WaitForConnectionsAsync(0, TimeSpan.FromSeconds(10), cancellationToken);

        await Task.Delay(TimeSpan.FromSeconds(options.Quick ? 0.5 : 2), cancellationToken);
        var before = await server.CollectAsync(cancellationToken);
        var rssBefore = server.RssBytes;

        var clock = Stopwatch.StartNew();
        var (clients, failed) = await ClientPool.ConnectAsync(server.RealtimeUri, options.Connections, parallel: 64, bufferBytes: 1024, cancellationToken);
        try
        {
            var welcomed = await ClientPool.WaitWelcomedAsync(clients, TimeSpan.FromSeconds(60), cancellationToken);
            var connectSeconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"  {kind}: {Fmt.I(clients.Count)} connected ({Fmt.I(failed)} failed), {Fmt.I(welcomed)} welcomed in {Fmt.N(connectSeconds, 1)} s");

            await Task.Delay(TimeSpan.FromSeconds(options.Quick ? 0.5 : 3), cancellationToken);
            var after = await server.CollectAsync(cancellationToken);
            var rssAfter = server.RssBytes;
            var result = new ScaleResult(
                kind, options.Connections, after.Connections, welcomed, connectSeconds, rssBefore, rssAfter, before.GcHeapBytes, after.GcHeapBytes,
                before.GcCommittedBytes, after.GcCommittedBytes, before.Threads, after.Threads);
            Console.WriteLine(
                $"  {kind}: RSS {Fmt.N(rssBefore / 1048576.0, 1)} → {Fmt.N(rssAfter / 1048576.0, 1)} MB = {Fmt.N(result.RssKbPerConnection, 2)} KB/connection, " +
                $"GC heap {Fmt.N(result.GcHeapKbPerConnection, 2)} KB/connection");
            return result;
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Abort();
            }
        }
    }
}
