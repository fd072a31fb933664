using System.Collections.Concurrent;
using System.Net.WebSockets;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;
using CleanRealtime.UnitTests.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>API.md §3.4 on a <see cref="FakeTimeProvider"/>: no test here waits for real time to pass.</summary>
public sealed class ConnectionHeartbeatTests
{
    private static readonly TimeSpan Bound = Eventually.DefaultTimeout;
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Heartbeat_EveryPingInterval_SendsPing()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        harness.Clock.Advance(Interval - TimeSpan.FromSeconds(1));
        harness.Publish(new WarningPayload("ocr", "marker"));
        Assert.Equal("warning:marker", (await client.ReceiveAsync()).Key);

        harness.Clock.Advance(TimeSpan.FromSeconds(1));
        var ping = await client.ReceiveAsync();
        Assert.Equal("ping", ping.Type);
        Assert.Equal(30, ping.Payload.GetProperty("interval_seconds").GetInt32());
        Assert.Equal(MessageSerializer.FormatTimestamp(RealtimeHarness.Epoch + Interval), ping.Timestamp);

        await client.SendPongAsync();
        await Eventually.TrueAsync(() => client.Connection.LastRoundTripMs is not null, "the pong is recorded");
        harness.Clock.Advance(Interval);
        var second = await client.ReceiveAsync();
        Assert.Equal("ping", second.Type);
        Assert.Equal(MessageSerializer.FormatTimestamp(RealtimeHarness.Epoch + (2 * Interval)), second.Timestamp);
    }

    [Fact]
    public async Task Heartbeat_WhenClientAnswersEveryPing_KeepsConnectionOpenPastPongTimeout()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        for (var i = 1; i <= 6; i++)
        {
            harness.Clock.Advance(Interval);
            Assert.Equal("ping", (await client.ReceiveAsync()).Type);
            var roundTrip = TimeSpan.FromMilliseconds(100 * i);
            harness.Clock.Advance(roundTrip);
            await client.SendPongAsync();
            await Eventually.TrueAsync(
                () => client.Connection.LastRoundTripMs is { } ms && Math.Abs(ms - roundTrip.TotalMilliseconds) < 0.001,
                $"pong {i} is recorded");
        }

        // Over three minutes, three times the pong timeout, and still open.
        Assert.True(harness.Clock.GetUtcNow() - RealtimeHarness.Epoch > 3 * harness.Options.PongTimeout);
        Assert.True(harness.IsConnected(client.Connection.Id));
        Assert.Null(client.Connection.CloseCode);
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    [Fact]
    public async Task Heartbeat_WithoutPongForLongerThanPongTimeout_ClosesWith1001()
    {
        await using var harness = new RealtimeHarness();
        var silent = harness.Connect();
        var answering = harness.Connect();

        harness.Clock.Advance(Interval);
        Assert.Equal("ping", (await silent.ReceiveAsync()).Type);
        Assert.Equal("ping", (await answering.ReceiveAsync()).Type);
        harness.Clock.Advance(TimeSpan.FromSeconds(29));
        await answering.SendPongAsync();
        await Eventually.TrueAsync(() => answering.Connection.LastRoundTripMs is not null, "the pong is recorded");

        // 59 s without a pong: still within the timeout.
        Assert.True(harness.IsConnected(silent.Connection.Id));
        Assert.Null(silent.Connection.CloseCode);

        harness.Clock.Advance(TimeSpan.FromSeconds(32));

        var close = await silent.ReceiveCloseAsync();
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.Status);
        Assert.Contains("no pong", close.Description, StringComparison.Ordinal);
        Assert.All(close.Before, m => Assert.Equal("ping", m.Type));
        await silent.Connection.Completion.WaitAsync(Bound);
        Assert.Equal(1001, silent.Connection.CloseCode);
        Assert.False(harness.IsConnected(silent.Connection.Id));

        // The client that answered 32 s ago is within its timeout.
        Assert.True(harness.IsConnected(answering.Connection.Id));
        Assert.Null(answering.Connection.CloseCode);
    }

    [Fact]
    public async Task Heartbeat_PongTimeout_CountsFromTheLastPongNotFromTheNextPing()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        harness.Clock.Advance(Interval);
        Assert.Equal("ping", (await client.ReceiveAsync()).Type);
        harness.Clock.Advance(TimeSpan.FromSeconds(15));
        await client.SendPongAsync();
        await Eventually.TrueAsync(() => client.Connection.LastRoundTripMs is not null, "the pong at 45 s is recorded");

        // 45 s + 59 s: open; a second later the client has been silent for longer than the pong timeout.
        harness.Clock.Advance(harness.Options.PongTimeout - TimeSpan.FromSeconds(1));
        Assert.Null(client.Connection.CloseCode);
        Assert.True(harness.IsConnected(client.Connection.Id));
        harness.Clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(1001, client.Connection.CloseCode);
        var close = await client.ReceiveCloseAsync();
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.Status);
        await client.Connection.Completion.WaitAsync(Bound);
        Assert.False(harness.IsConnected(client.Connection.Id));
    }

    [Fact]
    public async Task Pong_AnsweringTheWelcomePing_RecordsRoundTripLatency()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect(welcome: [new PingPayload(30)]);
        Assert.Equal("ping", (await client.ReceiveAsync()).Type);

        harness.Clock.Advance(TimeSpan.FromMilliseconds(120));
        await client.SendPongAsync();

        await Eventually.TrueAsync(() => client.Connection.LastRoundTripMs is not null, "the pong is recorded");
        Assert.Equal(120, client.Connection.LastRoundTripMs!.Value, precision: 3);
    }

    [Fact]
    public async Task Pong_FloodAfterOnePing_MeasuresOnlyThePongThatAnswersIt()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();
        harness.Clock.Advance(Interval);
        Assert.Equal("ping", (await client.ReceiveAsync()).Type);
        harness.Clock.Advance(TimeSpan.FromMilliseconds(40));
        await client.SendPongAsync();
        await Eventually.TrueAsync(() => client.Connection.LastRoundTripMs is not null, "the pong is recorded");

        // Unasked pongs long after: they prove the client is alive but answer no ping, so the round trip stays 40 ms.
        for (var i = 0; i < 50; i++)
        {
            harness.Clock.Advance(TimeSpan.FromMilliseconds(100));
            await client.SendPongAsync();
        }

        // The server reads a client's messages in order: once it answers this one, every pong before it was handled.
        await client.SendTextAsync("not json");
        Assert.Equal("error", (await client.ReceiveAsync()).Type);
        Assert.Equal(40, client.Connection.LastRoundTripMs!.Value, precision: 3);

        harness.Clock.Advance(Interval - TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(40));
        Assert.Equal("ping", (await client.ReceiveAsync()).Type);
        harness.Clock.Advance(TimeSpan.FromMilliseconds(70));
        await client.SendPongAsync();
        await Eventually.TrueAsync(() => client.Connection.LastRoundTripMs is { } ms && Math.Abs(ms - 70) < 0.001, "the next ping's pong is measured");
        Assert.True(harness.IsConnected(client.Connection.Id));
    }

    [Fact]
    public async Task Pong_AfterPing_RecordsRoundTripLatency()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();
        Assert.Null(client.Connection.LastRoundTripMs);

        harness.Clock.Advance(Interval);
        Assert.Equal("ping", (await client.ReceiveAsync()).Type);
        harness.Clock.Advance(TimeSpan.FromMilliseconds(250));
        await client.SendPongAsync();

        await Eventually.TrueAsync(() => client.Connection.LastRoundTripMs is not null, "the pong is recorded");
        Assert.Equal(250, client.Connection.LastRoundTripMs!.Value, precision: 3);
    }

    [Fact]
    public async Task Heartbeat_OnTransportWithoutPongs_KeepsPingingAndNeverTimesOut()
    {
        await using var harness = new RealtimeHarness();
        var transport = new RecordingTransport(supportsPong: false);
        var connection = harness.Manager.TryAdd(transport, null, null).Connection!;

        for (var i = 0; i < 5; i++)
        {
            harness.Clock.Advance(Interval);
            Assert.Equal(MessageType.Ping, (await transport.NextAsync()).Type);
        }

        Assert.True(harness.IsConnected(connection.Id));
        Assert.Null(connection.CloseCode);
        connection.Abort("test finished");
    }

    [Fact]
    public async Task Connection_WhenWriterEndsBeforeHeartbeatIsCreated_StillStopsTheHeartbeat()
    {
        var clock = new FakeTimeProvider(RealtimeHarness.Epoch);
        var transport = new RecordingTransport(failSendsWith: new WebSocketException(WebSocketError.ConnectionClosedPrematurely));
        RealtimeSessions? manager = null;

        // Holds the connection's first timer until the writer has failed on its first send and the connection is gone,
        // the order a thread switch can produce when the writer starts first.
        var time = new TimerTrackingTimeProvider(clock, () => transport.SendAttempts > 0 && manager is { Count: 0 });
        await using var harness = new RealtimeHarness(time: time);
        manager = harness.Manager;

        var connection = harness.Manager.TryAdd(transport, null, null, harness.Welcome(new PingPayload(30))).Connection!;
        await connection.Completion.WaitAsync(Bound);

        Assert.False(harness.IsConnected(connection.Id));
        Assert.NotEmpty(time.Timers);
        Assert.All(time.Timers, timer => Assert.True(timer.Disposed, "the timers of a finished connection must be stopped"));
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, transport.SendAttempts);
        Assert.DoesNotContain(harness.Logs.Entries, e => e.Message.Contains("closing", StringComparison.Ordinal));
    }

    /// <summary>Tracks every timer; the first one is created only once <c>holdFirstTimerUntil</c> is true (or after 300 ms).</summary>
    private sealed class TimerTrackingTimeProvider(FakeTimeProvider inner, Func<bool> holdFirstTimerUntil) : TimeProvider
    {
        public ConcurrentQueue<TrackedTimer> Timers { get; } = new();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override long GetTimestamp() => inner.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (Timers.IsEmpty)
            {
                SpinWait.SpinUntil(holdFirstTimerUntil, TimeSpan.FromMilliseconds(300));
            }

            var timer = new TrackedTimer(inner.CreateTimer(callback, state, dueTime, period));
            Timers.Enqueue(timer);
            return timer;
        }
    }

    private sealed class TrackedTimer(ITimer inner) : ITimer
    {
        private int _disposed;

        public bool Disposed => Volatile.Read(ref _disposed) != 0;

        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

        public void Dispose()
        {
            Volatile.Write(ref _disposed, 1);
            inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Volatile.Write(ref _disposed, 1);
            return inner.DisposeAsync();
        }
    }
}
