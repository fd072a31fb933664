using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>
/// API.md §3.8 at the gate alone: live job messages are held while the history is sent, released after it in
/// <c>seq</c> order, and never sent twice; an overflow sends the writer back to the history.
/// </summary>
public sealed class ReplayGateTests
{
    [Fact]
    public void Admit_WhileHolding_HoldsJobMessagesAndPassesMessagesAboutNoJob()
    {
        var gate = new ReplayGate(capacity: 4, holding: true);

        Assert.Equal(GateVerdict.Held, gate.Admit(Job(1)));
        Assert.Equal(GateVerdict.Pass, gate.Admit(Ping()));
    }

    [Fact]
    public void TryGoLive_ReleasesTheHeldMessagesAfterTheHistoryInSeqOrder_ThenLiveMessagesPassAndRepeatsAreSkipped()
    {
        var gate = new ReplayGate(capacity: 8, holding: true);
        foreach (var seq in new long[] { 4, 5, 6, 7 })
        {
            Assert.Equal(GateVerdict.Held, gate.Admit(Job(seq)));
        }

        var released = new List<long>();
        Assert.True(gate.TryGoLive(5, m => released.Add(m.Seq!.Value)));

        Assert.Equal([6L, 7], released);
        Assert.Equal(GateVerdict.AlreadySent, gate.Admit(Job(5)));
        Assert.Equal(GateVerdict.Pass, gate.Admit(Job(8)));
    }

    [Fact]
    public void Hold_MoreThanTheCapacity_DropsTheHeldAndGoingLiveFailsOnce_SoTheHistoryIsReadOnWithoutGapOrDuplicate()
    {
        var gate = new ReplayGate(capacity: 2, holding: true);
        foreach (var seq in new long[] { 3, 4, 5 })
        {
            Assert.Equal(GateVerdict.Held, gate.Admit(Job(seq)));
        }

        // The history had reached 2 when it was found empty: 3 and 4 were dropped from the held list, so the writer
        // must read them from the history first.
        var released = new List<long>();
        Assert.False(gate.TryGoLive(2, m => released.Add(m.Seq!.Value)));
        Assert.Empty(released);
        Assert.Equal(GateVerdict.Held, gate.Admit(Job(6)));

        // The history now reached 4: what was held after it follows, once.
        Assert.True(gate.TryGoLive(4, m => released.Add(m.Seq!.Value)));
        Assert.Equal([5L, 6], released);
        Assert.Equal(GateVerdict.Pass, gate.Admit(Job(7)));
    }

    [Fact]
    public void Overflow_HeldMessagesTheHistoryAlreadySent_AreNotReleased()
    {
        var gate = new ReplayGate(capacity: 1, holding: true);
        gate.Admit(Job(3));
        gate.Admit(Job(4)); // overflows: 3 dropped, 4 held

        var released = new List<long>();
        Assert.False(gate.TryGoLive(4, m => released.Add(m.Seq!.Value)));
        Assert.True(gate.TryGoLive(5, m => released.Add(m.Seq!.Value)));

        Assert.Empty(released);
        Assert.Equal(GateVerdict.AlreadySent, gate.Admit(Job(5)));
    }

    [Fact]
    public void MarkSent_OnAConnectionThatReplaysNothing_SkipsThatSeqWhenItArrivesLive()
    {
        var gate = new ReplayGate(capacity: 4, holding: false);
        gate.MarkSent(3);
        gate.MarkSent(2); // never lowers what was sent

        Assert.Equal(GateVerdict.AlreadySent, gate.Admit(Job(2)));
        Assert.Equal(GateVerdict.AlreadySent, gate.Admit(Job(3)));
        Assert.Equal(GateVerdict.Pass, gate.Admit(Job(4)));
        Assert.True(gate.TryGoLive(9, _ => Assert.Fail("nothing is held on a connection that replays nothing")));
    }

    [Fact]
    public void Admit_WithoutReplay_PassesEveryMessage()
    {
        var gate = new ReplayGate(capacity: 4, holding: false);

        Assert.Equal(GateVerdict.Pass, gate.Admit(Job(1)));
        Assert.Equal(GateVerdict.Pass, gate.Admit(Ping()));
    }

    private static OutboundMessage Job(long seq) => new(MessageType.Progress, "{}"u8.ToArray(), seq);

    private static OutboundMessage Ping() => new(MessageType.Ping, "{}"u8.ToArray());
}
