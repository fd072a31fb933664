using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Performance;

[Collection(PerformanceCollection.Name)]
public sealed class ThroughputAndLatencyTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task MessageThroughput1000PerSec()
    {
        const int Count = 3000;
        var job = Guid.NewGuid();
        await using var client = await LoadDriver.ConnectReadyAsync(server);

        var receiving = LoadDriver.ReceiveFramesAsync(client, Count, TimeSpan.FromSeconds(30));
        var publishing = await LoadDriver.PublishFramesAsync(server, job, Count, perSecond: 1000);
        var received = await receiving;

        // Every frame arrived, in order, none dropped.
        Assert.Equal(Count, received.Count);
        Assert.Equal(Enumerable.Range(0, Count), received.Select(r => r.Seq));

        // Sent at 1000 frames/s, and received at that rate: the client's own clock from its first frame to its last. A
        // client that fell behind (frames queued on the server) would take longer; one fed in bursts would not show the
        // rate either, so each second of the run is checked too, against half and one and a half times the rate (a
        // 2-core machine's scheduling moves a few hundred frames between neighbouring seconds; a stall does more).
        Assert.InRange(publishing.TotalSeconds, 2.5, 4.5);
        var first = received[0].ReceivedAt;
        var span = System.Diagnostics.Stopwatch.GetElapsedTime(first, received[^1].ReceivedAt);
        var rate = (Count - 1) / span.TotalSeconds;
        Assert.True(rate is >= 900 and <= 1100, $"received {Count} frames in {span.TotalSeconds:F3} s: {rate:F0} frames/s");
        var perSecond = Enumerable.Range(0, (int)span.TotalSeconds)
            .Select(second => received.Count(r => (int)System.Diagnostics.Stopwatch.GetElapsedTime(first, r.ReceivedAt).TotalSeconds == second))
            .ToList();
        Assert.NotEmpty(perSecond);
        Assert.All(perSecond, n => Assert.InRange(n, 500, 1500));
        var stats = await server.GetJsonAsync("/v1/realtime/stats");
        Assert.Equal(0, stats.GetProperty("dropped").GetInt64());
    }

    [Fact]
    public async Task BroadcastLatencyP50()
    {
        var latencies = await BroadcastToFiveClientsAsync();

        var p50 = LoadDriver.Percentile(latencies, 50);
        Assert.True(p50 < 5, $"p50 broadcast latency {p50:F2} ms over {latencies.Count} deliveries (limit 5 ms)");
    }

    [Fact]
    public async Task BroadcastLatencyP95()
    {
        var latencies = await BroadcastToFiveClientsAsync();

        var p95 = LoadDriver.Percentile(latencies, 95);
        Assert.True(p95 < 50, $"p95 broadcast latency {p95:F2} ms over {latencies.Count} deliveries (limit 50 ms)");
    }

    /// <summary>1000 messages at 1000/s to 5 clients; the latency of every delivery (5000 samples).</summary>
    private async Task<List<double>> BroadcastToFiveClientsAsync()
    {
        const int Count = 1000;
        var clients = new List<RealtimeClient>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                clients.Add(await LoadDriver.ConnectReadyAsync(server));
            }

            var receiving = clients.Select(c => LoadDriver.ReceiveFramesAsync(c, Count, TimeSpan.FromSeconds(30))).ToList();
            await LoadDriver.PublishFramesAsync(server, Guid.NewGuid(), Count, perSecond: 1000);
            var results = await Task.WhenAll(receiving);

            Assert.All(results, r => Assert.Equal(Count, r.Count));
            return results.SelectMany(r => r.Select(x => x.LatencyMs)).ToList();
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }
}

[Collection(PerformanceCollection.Name)]
public sealed class QueueBoundTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public async Task InitializeAsync() => _server = await ServerFixture.StartAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task MessageQueueMemoryBounded()
    {
        const int Count = 40_000;
        const int Capacity = 1000;

        // A client that never reads: the kernel's socket buffers fill, then the server's queue must stay capped.
        await using var frozen = await LoadDriver.ConnectReadyAsync(_server);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalMemory(forceFullCollection: true);

        var maxDepth = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                var stats = await _server.GetJsonAsync("/v1/realtime/stats");
                foreach (var connection in stats.GetProperty("connections").EnumerateArray())
                {
                    maxDepth = Math.Max(maxDepth, connection.GetProperty("queue_depth").GetInt32());
                }

                await Task.Delay(20);
            }
        });
        await LoadDriver.PublishFramesAsync(_server, Guid.NewGuid(), Count, perSecond: 100_000, padding: 1000);
        await sampling.CancelAsync();
        await sampler;

        var after = GC.GetTotalMemory(forceFullCollection: true);
        var final = (await _server.GetJsonAsync("/v1/realtime/stats")).GetProperty("connections")[0];

        // ~40 MB was published to it; the queue holds at most 1000 messages (~1 MB) and the rest was dropped.
        Assert.InRange(maxDepth, 1, Capacity);
        Assert.InRange(final.GetProperty("queue_depth").GetInt32(), 1, Capacity);
        Assert.True(final.GetProperty("dropped").GetInt64() > Count / 2, $"dropped only {final.GetProperty("dropped")}");
        Assert.True(after - before < 16 * 1024 * 1024, $"managed heap grew by {(after - before) / 1024 / 1024} MB");
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, frozen.Socket.State);
    }
}
