using System.Net.Sockets;
using System.Text;
using CleanRealtime.Api.Realtime;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.IntegrationTests.Reliability;

[Collection(Performance.PerformanceCollection.Name)]
public sealed class SlowAndChurningClientTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    // Default queue capacity (1000): the job's ~110 messages that must not be dropped always fit a healthy client's
    // queue, while its frames overflow the frozen client's queue.
    public async Task InitializeAsync() => _server = await ServerFixture.StartAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task FrozenAndChurningClients_DoNotCostHealthyClientsAnyMessageThatMatters()
    {
        var manager = _server.Services.GetRequiredService<RealtimeSessions>();
        var healthy = new List<RealtimeClient>();
        for (var i = 0; i < 5; i++)
        {
            healthy.Add(await _server.ConnectAsync());
        }

        // A client that connects and then never reads, with a tiny receive window: its kernel buffers fill at once.
        var before = manager.Connections.Select(c => c.Id).ToHashSet();
        using var frozen = await ConnectFrozenAsync(_server.BaseAddress);
        var frozenConnection = await WaitForNewConnectionAsync(manager, before);

        using var churning = new CancellationTokenSource();
        var churn = ChurnAsync(_server, 1000, churning.Token);

        // 30,000 fast frames × 2 plugins: ~60,000 frame messages (~15 MB, several times what loopback socket buffers absorb:
        // the kernel's send buffer grows to tcp_wmem's 4 MB on its own, and a writer that sends a run of messages as one
        // write fills it with ~4 MB of them, so ~8 MB left the frozen client's queue unfilled at times) plus ~110 progress,
        // plugin_status and error (gpu fallback) messages.
        var job = await _server.SubmitJobAsync(
            "synthetic:pitch?frames=30000&width=64&height=64", ["frame_quality", "pitch_detection"], device: "gpu");
        var sequences = await Task.WhenAll(healthy.Select(c => ReadJobAsync(c, job)));
        var churned = await churn;

        var important = sequences.Select(s => s.Where(m => m.Type != "frame").Select(m => m.Raw).ToList()).ToList();
        Assert.All(important, s => Assert.Equal(important[0], s));
        var types = sequences[0].Where(m => m.Type != "frame").Select(m => m.Type).ToList();
        Assert.Equal("progress", types[0]);
        Assert.Contains("error", types);
        Assert.Equal(4, types.Count(t => t == "plugin_status"));
        var progress = sequences[0].Where(m => m.Type == "progress").Select(m => m.Payload.GetProperty("progress").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(0, 100).Append(100), progress);
        Assert.Equal(1000, churned);
        Assert.True(
            frozenConnection.CloseCode == 4002 || frozenConnection.Dropped > 0,
            $"the frozen client neither lost frames nor was closed (close {frozenConnection.CloseCode}, dropped {frozenConnection.Dropped})");

        foreach (var client in healthy)
        {
            await client.DisposeAsync();
        }
    }

    private static async Task<List<ReceivedMessage>> ReadJobAsync(RealtimeClient client, Guid job)
    {
        try
        {
            var all = await client.ReceiveUntilAsync(
                m => m.JobId == job.ToString() && m.Type == "progress" && m.Payload.TryGetProperty("stage", out var s) && s.GetString() == "completed",
                TimeSpan.FromSeconds(90));
            return all.Where(m => m.JobId == job.ToString()).ToList();
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException($"healthy client closed with {client.CloseStatus} '{client.CloseDescription}': {ex.Message[..200]}", ex);
        }
    }

    private static async Task<int> ChurnAsync(ServerFixture server, int cycles, CancellationToken cancellationToken)
    {
        var done = 0;
        for (var i = 0; i < cycles && !cancellationToken.IsCancellationRequested; i++)
        {
            await using var client = await server.ConnectAsync();
            done++;
        }

        return done;
    }

    private static async Task<Socket> ConnectFrozenAsync(Uri server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024 };
        await socket.ConnectAsync(server.Host, server.Port);
        var handshake = $"GET /v1/realtime HTTP/1.1\r\nHost: {server.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(handshake));
        var buffer = new byte[1];
        var head = new StringBuilder();
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            Assert.Equal(1, await socket.ReceiveAsync(buffer));
            head.Append((char)buffer[0]);
        }

        Assert.StartsWith("HTTP/1.1 101", head.ToString(), StringComparison.Ordinal);
        return socket;
    }

    private static async Task<Connection> WaitForNewConnectionAsync(RealtimeSessions manager, HashSet<Guid> before)
    {
        for (var i = 0; i < 200; i++)
        {
            if (manager.Connections.FirstOrDefault(c => !before.Contains(c.Id)) is { } added)
            {
                return added;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException("the frozen client was never registered");
    }
}
