using CleanRealtime.Api.Realtime;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>API.md §3.4 at the heartbeat alone, on a <see cref="FakeTimeProvider"/>: pings, the pong deadline, the round trip.</summary>
public sealed class HeartbeatTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PongTimeout = TimeSpan.FromSeconds(60);
    private readonly FakeTimeProvider _clock = new(RealtimeHarness.Epoch);
    private int _pings;
    private int _overdue;

    [Fact]
    public void Start_PingsEveryInterval()
    {
        using var heartbeat = Started(PongTimeout);

        _clock.Advance(Interval - TimeSpan.FromTicks(1));
        Assert.Equal(0, _pings);
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, _pings);
        _clock.Advance(Interval * 2);
        Assert.Equal(3, _pings);
    }

    [Fact]
    public void PongTimeout_WithoutAPong_CallsOverdueOnce()
    {
        using var heartbeat = Started(PongTimeout);

        _clock.Advance(PongTimeout - TimeSpan.FromTicks(1));
        Assert.Equal(0, _overdue);
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, _overdue);
        _clock.Advance(PongTimeout * 3);
        Assert.Equal(1, _overdue);
    }

    [Fact]
    public void RecordPong_RestartsTheDeadlineFromThePong()
    {
        using var heartbeat = Started(PongTimeout);

        _clock.Advance(TimeSpan.FromSeconds(45));
        heartbeat.RecordPong();
        _clock.Advance(PongTimeout - TimeSpan.FromTicks(1));
        Assert.Equal(0, _overdue);
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, _overdue);
    }

    [Fact]
    public void WithoutPongTimeout_KeepsPingingAndIsNeverOverdue()
    {
        using var heartbeat = Started(pongTimeout: null);

        _clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(20, _pings);
        Assert.Equal(0, _overdue);
    }

    [Fact]
    public void RecordPong_AnswersTheWelcomePingThenEachLaterPingOnce()
    {
        using var heartbeat = Started(PongTimeout);
        Assert.Null(heartbeat.LastRoundTripMs);

        _clock.Advance(TimeSpan.FromMilliseconds(120));
        heartbeat.RecordPong();
        Assert.Equal(120, heartbeat.LastRoundTripMs!.Value, precision: 3);

        // A pong that answers no ping measures nothing.
        _clock.Advance(TimeSpan.FromSeconds(5));
        heartbeat.RecordPong();
        Assert.Equal(120, heartbeat.LastRoundTripMs!.Value, precision: 3);

        _clock.Advance(Interval - TimeSpan.FromMilliseconds(120) - TimeSpan.FromSeconds(5));
        Assert.Equal(1, _pings);
        _clock.Advance(TimeSpan.FromMilliseconds(40));
        heartbeat.RecordPong();
        Assert.Equal(40, heartbeat.LastRoundTripMs!.Value, precision: 3);
    }

    [Fact]
    public void Dispose_StopsThePingsAndTheDeadline_AndAStartAfterItStartsNothing()
    {
        var heartbeat = Started(PongTimeout);
        heartbeat.Dispose();
        _clock.Advance(TimeSpan.FromMinutes(5));

        var late = new Heartbeat(_clock, Interval, PongTimeout);
        late.Dispose();
        late.Start(() => _pings++, () => _overdue++);
        _clock.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal((0, 0), (_pings, _overdue));
    }

    private Heartbeat Started(TimeSpan? pongTimeout)
    {
        var heartbeat = new Heartbeat(_clock, Interval, pongTimeout);
        heartbeat.Start(() => _pings++, () => _overdue++);
        return heartbeat;
    }
}
