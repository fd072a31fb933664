using System.Net.WebSockets;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Realtime;

/// <summary>Server shutdown (API.md §3.7; matrix §1.4): each test runs its own host, since it stops it.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task WebsocketServerShutdown()
    {
        var server = await ServerFixture.StartAsync();
        var clients = new List<RealtimeClient>();
        try
        {
            var running = await server.SubmitJobAsync(ServerFixture.Synthetic(600, fps: 30), ["motion_detection"]);
            foreach (var query in new[] { null, null, $"session_id={Guid.NewGuid()}", $"session_id={Guid.NewGuid()}", $"job_id={running}" })
            {
                clients.Add((await server.ConnectWelcomedAsync(query)).Client);
            }

            await using var sse = await server.ConnectSseAsync();
            await sse.ReceiveWelcomeAsync();

            // Stop the host while every client reads; each one must see a clean close with 1000 (an event stream: its end).
            var reading = clients.Select(c => c.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(15))).ToList();
            var streaming = sse.ReceiveUntilAsync(_ => false, TimeSpan.FromSeconds(15));
            var stopping = server.StopAsync();
            await Task.WhenAll(reading);
            await stopping.WaitAsync(TimeSpan.FromSeconds(20));
            var ended = await Assert.ThrowsAsync<InvalidOperationException>(() => streaming);
            Assert.Contains("closed the connection", ended.Message, StringComparison.Ordinal);

            Assert.All(clients, c => Assert.Equal(WebSocketCloseStatus.NormalClosure, c.CloseStatus));
            Assert.All(clients, c => Assert.Equal(WebSocketState.Closed, c.Socket.State));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            await server.DisposeAsync();
        }
    }
}

/// <summary>The server-wide connection limit (<c>Realtime:MaxConnections</c>), set small on a host of its own.</summary>
public sealed class ServerCapacityTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public async Task InitializeAsync() =>
        _server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Realtime:MaxConnections"] = "3" });

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Connect_OverServerWideLimit_ClosesWith4001UntilASlotFrees()
    {
        var three = new List<RealtimeClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                three.Add((await _server.ConnectWelcomedAsync($"session_id={Guid.NewGuid()}")).Client);
            }

            await using (var fourth = await _server.ConnectAsync($"session_id={Guid.NewGuid()}"))
            {
                Assert.Empty(await fourth.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10)));
                Assert.Equal(4001, (int?)fourth.CloseStatus);
            }

            Assert.All(three, c => Assert.Equal(WebSocketState.Open, c.Socket.State));
            Assert.Equal(3, (await _server.GetStatsAsync()).GetProperty("open").GetInt32());

            // One leaves: the next one is let in.
            await three[0].DisposeAsync();
            three.RemoveAt(0);
            await ServerFixture.WaitUntilAsync(
                async () => (await _server.GetStatsAsync()).GetProperty("open").GetInt32() == 2, TimeSpan.FromSeconds(5), "the slot was not freed");
            var (again, welcome) = await _server.ConnectWelcomedAsync();
            three.Add(again);
            Assert.Equal("ping", welcome[^1].Type);
        }
        finally
        {
            foreach (var client in three)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Sse_OverServerWideLimit_Returns429Problem()
    {
        var three = new List<RealtimeClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                three.Add((await _server.ConnectWelcomedAsync()).Client);
            }

            await using var sse = await _server.ConnectSseAsync();

            Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, sse.Response.StatusCode);
            Assert.Equal("application/problem+json", sse.Response.Content.Headers.ContentType?.MediaType);
        }
        finally
        {
            foreach (var client in three)
            {
                await client.DisposeAsync();
            }
        }
    }
}
