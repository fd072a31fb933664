using System.Net.WebSockets;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.IntegrationTests.Realtime;

/// <summary>The real host with a <see cref="FakeTimeProvider"/> in place of the system clock, so heartbeats can be driven.</summary>
public sealed class FakeClockServerFixture : IAsyncLifetime
{
    public TimerWatchingClock Clock { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public ServerFixture Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await ServerFixture.StartAsync(services: s => s.AddSingleton<TimeProvider>(Clock));

    public Task DisposeAsync() => Server.DisposeAsync();
}

/// <summary>
/// Heartbeat (API.md §3.4; matrix §1.3) with the defaults: a ping every 30 s, closed after 60 s without a pong. Time is
/// advanced on the injected fake clock; nothing here waits 30 real seconds.
/// </summary>
public sealed class HeartbeatTests(FakeClockServerFixture fixture) : IClassFixture<FakeClockServerFixture>
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    private ServerFixture Server => fixture.Server;

    private TimerWatchingClock Clock => fixture.Clock;

    [Fact]
    public async Task WebsocketSendsPing()
    {
        var (client, session) = await ConnectAsync();
        await using var owned = client;
        await client.ExpectNothingBeforeProbeAsync();

        Clock.Advance(TimeSpan.FromSeconds(30));

        var ping = await client.ReceiveAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(ping);
        JobMessageAssert.IsEnvelope(ping);
        Assert.Equal("ping", ping.Type);
        Assert.Equal(30, ping.Payload.GetProperty("interval_seconds").GetInt32());
        Assert.Single(await Server.SessionConnectionsAsync(session));
    }

    [Fact]
    public async Task WebsocketReceivesPong()
    {
        var (client, session) = await ConnectAsync();
        await using var owned = client;
        Assert.Equal(JsonValueKind.Null, (await ConnectionOf(session)).GetProperty("last_round_trip_ms").ValueKind);

        Clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("ping", (await client.ReceiveAsync(TimeSpan.FromSeconds(5)))?.Type);
        Clock.Advance(TimeSpan.FromMilliseconds(1500));
        await client.SendPongAsync();

        // The pong is recorded: its round trip (1.5 s on the fake clock since the ping) shows in the stats.
        await WaitForRoundTripAsync(session, 1500);
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    [Fact]
    public async Task WebsocketHeartbeatTimeout()
    {
        var (client, session) = await ConnectAsync();
        await using var owned = client;

        // No pong at all: still open after the first ping ...
        Clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("ping", (await client.ReceiveAsync(TimeSpan.FromSeconds(5)))?.Type);
        Assert.Equal(WebSocketState.Open, client.Socket.State);

        // ... and closed by the server once the pong timeout has passed (the check runs on the ping timer).
        Clock.Advance(TimeSpan.FromSeconds(30));
        Clock.Advance(TimeSpan.FromSeconds(30));
        await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(5));

        Assert.NotNull(client.CloseStatus);
        Assert.NotEqual(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        await ServerFixture.WaitUntilAsync(
            async () => (await Server.SessionConnectionsAsync(session)).Count == 0, TimeSpan.FromSeconds(5), "the timed-out connection is still listed");
    }

    [Fact]
    public async Task Heartbeat_NoPongForJustOverPongTimeout_Closed()
    {
        var (client, session) = await ConnectAsync();
        await using var owned = client;

        Clock.Advance(TimeSpan.FromSeconds(30));
        Clock.Advance(TimeSpan.FromSeconds(30));
        Clock.Advance(TimeSpan.FromSeconds(1));

        // 61 s without a pong: API.md §3.4 says the connection is closed by now.
        await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(client.CloseStatus);
        await ServerFixture.WaitUntilAsync(
            async () => (await Server.SessionConnectionsAsync(session)).Count == 0, TimeSpan.FromSeconds(5), "the timed-out connection is still listed");
    }

    [Fact]
    public async Task WebsocketHeartbeatInterval()
    {
        var (client, session) = await ConnectAsync();
        await using var owned = client;
        var elapsed = TimeSpan.Zero;

        for (var beat = 1; beat <= 4; beat++)
        {
            // Nothing 5 s before the beat is due (a due timer fires inside Advance, so its ping would be queued before
            // the probe's answer); the ping arrives when 30 s have passed since the last one.
            var due = TimeSpan.FromSeconds(30 * beat);
            Advance(due - TimeSpan.FromSeconds(5) - elapsed);
            await client.ExpectNothingBeforeProbeAsync();
            Advance(TimeSpan.FromSeconds(5));
            Assert.Equal("ping", (await client.ReceiveAsync(TimeSpan.FromSeconds(5)))?.Type);

            // Answer it (after `beat` seconds) so the connection stays alive for the next beat.
            Advance(TimeSpan.FromSeconds(beat));
            await client.SendPongAsync();
            await WaitForRoundTripAsync(session, beat * 1000);
        }

        Assert.Equal(WebSocketState.Open, client.Socket.State);

        void Advance(TimeSpan by)
        {
            Clock.Advance(by);
            elapsed += by;
        }
    }

    [Fact]
    public async Task Heartbeat_RegularPongs_KeepConnectionOpenPastPongTimeout()
    {
        var (client, session) = await ConnectAsync();
        await using var owned = client;

        // Six beats (180 s on the clock, three times the pong timeout), each answered.
        for (var beat = 1; beat <= 6; beat++)
        {
            Clock.Advance(TimeSpan.FromSeconds(30));
            Assert.Equal("ping", (await client.ReceiveAsync(TimeSpan.FromSeconds(5)))?.Type);
            Clock.Advance(TimeSpan.FromMilliseconds(100 * beat));
            await client.SendPongAsync();
            await WaitForRoundTripAsync(session, 100 * beat);
        }

        Assert.Equal(WebSocketState.Open, client.Socket.State);
        Assert.Single(await Server.SessionConnectionsAsync(session));
    }

    [Fact]
    public async Task Heartbeat_SseConnection_GetsPingsAndIsNeverTimedOut()
    {
        var session = Guid.NewGuid();
        var heartbeats = Clock.Count(Interval, Interval);
        await using var sse = await Server.ConnectSseAsync($"session_id={session}");
        await sse.ReceiveWelcomeAsync();
        await Clock.WaitForTimerAsync(Interval, Interval, heartbeats, "the event stream's heartbeat timer was not registered");

        // An event stream cannot answer pings, so it is never closed for want of a pong.
        for (var beat = 1; beat <= 4; beat++)
        {
            Clock.Advance(TimeSpan.FromSeconds(30));
            Assert.Equal("ping", (await sse.ReceiveAsync(TimeSpan.FromSeconds(5)))?.Type);
        }

        Assert.Single(await Server.SessionConnectionsAsync(session));
    }

    /// <summary>Connects with its own session and reads the welcome, so the next message is the heartbeat's.</summary>
    private async Task<(RealtimeClient Client, Guid Session)> ConnectAsync()
    {
        var session = Guid.NewGuid();
        var heartbeats = Clock.Count(Interval, Interval);
        var (client, _) = await Server.ConnectWelcomedAsync($"session_id={session}");

        // The clock may only move once the connection's heartbeat timer exists (it is due 30 s after it is made).
        await Clock.WaitForTimerAsync(Interval, Interval, heartbeats, "the connection's heartbeat timer was not registered");
        return (client, session);
    }

    private async Task<JsonElement> ConnectionOf(Guid session) => Assert.Single(await Server.SessionConnectionsAsync(session));

    private Task WaitForRoundTripAsync(Guid session, double milliseconds) =>
        ServerFixture.WaitUntilAsync(
            async () => (await ConnectionOf(session)).GetProperty("last_round_trip_ms") is { ValueKind: JsonValueKind.Number } rtt
                        && Math.Abs(rtt.GetDouble() - milliseconds) < 0.5,
            TimeSpan.FromSeconds(5),
            $"no pong with a {milliseconds} ms round trip was recorded");
}
