using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;
using CleanRealtime.UnitTests.TestSupport;
using static CleanRealtime.UnitTests.Api.Realtime.TestPayloads;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>
/// API.md §3.8: a resuming connection is registered first, sent its history, then goes live; live messages that raced
/// the history are neither lost nor sent twice.
/// </summary>
public sealed class ConnectionReplayTests
{
    private static readonly Guid Job = Guid.NewGuid();

    [Fact]
    public async Task Replay_LiveMessagesPublishedWhileTheHistoryIsRead_AreSentOnceAfterIt()
    {
        await using var harness = new RealtimeHarness();
        var log = new List<OutboundMessage>();
        var transport = new RecordingTransport();
        var reads = 0;
        var replay = new Replay(0, (after, _) =>
        {
            if (reads++ == 0)
            {
                // The job publishes 1..7 while the first page is being read; the read saw 1..5 only.
                for (var seq = 1; seq <= 7; seq++)
                {
                    PublishAndLog(harness, log, seq);
                }

                return Task.FromResult<IReadOnlyList<OutboundMessage>>([.. log.Where(m => m.Seq > after && m.Seq <= 5)]);
            }

            return Task.FromResult<IReadOnlyList<OutboundMessage>>([]);
        });

        harness.Manager.TryAdd(transport, Job, null, harness.Welcome(new PingPayload(30)), replay: replay);
        await Eventually.TrueAsync(() => reads == 2, "the history was read to its end");
        PublishAndLog(harness, log, 8);

        Assert.Equal(MessageType.Ping, (await transport.NextAsync()).Type);
        var sent = new List<long>();
        for (var i = 0; i < 8; i++)
        {
            sent.Add((await transport.NextAsync()).Seq!.Value);
        }

        Assert.Equal([1L, 2, 3, 4, 5, 6, 7, 8], sent);
    }

    [Fact]
    public async Task Replay_MoreLiveMessagesThanTheQueueHoldsDuringTheHistory_ReadsOnInTheHistoryWithoutGapOrDuplicate()
    {
        await using var harness = new RealtimeHarness(o => o.QueueCapacity = 3);
        var log = new List<OutboundMessage>();
        var transport = new RecordingTransport();
        var published = false;
        var replay = new Replay(0, (after, _) =>
        {
            if (!published)
            {
                // 12 messages arrive while the first page is read: far more than the 3 the connection holds aside.
                published = true;
                for (var seq = 1; seq <= 12; seq++)
                {
                    PublishAndLog(harness, log, seq);
                }
            }

            return Task.FromResult<IReadOnlyList<OutboundMessage>>([.. log.Where(m => m.Seq > after).Take(2)]);
        });

        harness.Manager.TryAdd(transport, Job, null, [], replay: replay);

        var sent = new List<long>();
        for (var i = 0; i < 12; i++)
        {
            sent.Add((await transport.NextAsync()).Seq!.Value);
        }

        PublishAndLog(harness, log, 13);
        sent.Add((await transport.NextAsync()).Seq!.Value);
        Assert.Equal(Enumerable.Range(1, 13).Select(i => (long)i), sent);
    }

    [Fact]
    public async Task Replay_MessageReplayedFromTheTailBeforeItsFanOut_IsNotSentAgainWhenItArrivesLive()
    {
        await using var harness = new RealtimeHarness();
        var transport = new RecordingTransport();
        var tail = new List<OutboundMessage>();
        for (var seq = 1; seq <= 3; seq++)
        {
            // In the job's tail already; the fan-out of 3 has not run yet (it runs just after the tail is written).
            tail.Add(harness.Serializer.ToOutbound(harness.Message(Status(Job, seq)) with { Seq = seq }));
        }

        var reads = 0;
        var replay = new Replay(0, (after, _) =>
        {
            reads++;
            return Task.FromResult<IReadOnlyList<OutboundMessage>>([.. tail.Where(m => m.Seq > after)]);
        });
        harness.Manager.TryAdd(transport, Job, null, [], replay: replay);
        await Eventually.TrueAsync(() => reads == 2, "the connection went live");

        harness.FanOut.Publish(new PublishedMessage(harness.Message(Status(Job, 3)) with { Seq = 3 }, tail[2]));
        PublishAndLog(harness, tail, 4);

        var sent = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            sent.Add((await transport.NextAsync()).Seq!.Value);
        }

        Assert.Equal([1L, 2, 3, 4], sent);
        Assert.False(transport.TryTake(out _));
    }

    [Fact]
    public async Task Replay_CaughtUpWithAJobThatHasEnded_SendsTheWelcomeAndTheRestThenClosesWith1000()
    {
        await using var harness = new RealtimeHarness();
        var transport = new RecordingTransport();
        var log = new List<OutboundMessage>();
        for (var seq = 1; seq <= 3; seq++)
        {
            log.Add(harness.Serializer.ToOutbound(harness.Message(Status(Job, seq)) with { Seq = seq }));
        }

        var askedUpTo = new List<long>();
        var replay = new Replay(
            1,
            (after, _) => Task.FromResult<IReadOnlyList<OutboundMessage>>([.. log.Where(m => m.Seq > after)]),
            (upTo, _) =>
            {
                askedUpTo.Add(upTo);
                return Task.FromResult(upTo >= 3);
            });

        var connection = harness.Manager.TryAdd(transport, Job, null, harness.Welcome(new PingPayload(30)), replay: replay).Connection!;
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(MessageType.Ping, (await transport.NextAsync()).Type);
        Assert.Equal(2, (await transport.NextAsync()).Seq);
        Assert.Equal(3, (await transport.NextAsync()).Seq);
        Assert.False(transport.TryTake(out _));
        Assert.Equal(1000, transport.CloseCode);
        Assert.Equal([3L], askedUpTo);
    }

    [Fact]
    public async Task Replay_CaughtUpWithAJobStillRunning_StaysOpenAndGoesLive()
    {
        await using var harness = new RealtimeHarness();
        var transport = new RecordingTransport();
        var log = new List<OutboundMessage>();
        PublishAndLog(harness, log, 1);
        var asked = 0;
        var replay = new Replay(
            0,
            (after, _) => Task.FromResult<IReadOnlyList<OutboundMessage>>([.. log.Where(m => m.Seq > after)]),
            (_, _) =>
            {
                Interlocked.Increment(ref asked);
                return Task.FromResult(false);
            });

        var connection = harness.Manager.TryAdd(transport, Job, null, [], replay: replay).Connection!;
        await Eventually.TrueAsync(() => Volatile.Read(ref asked) == 1, "the replay caught up");
        PublishAndLog(harness, log, 2);

        Assert.Equal(1, (await transport.NextAsync()).Seq);
        Assert.Equal(2, (await transport.NextAsync()).Seq);
        Assert.False(connection.Completion.IsCompleted);
        Assert.Equal(0, transport.CloseCode);
    }

    [Fact]
    public async Task Snapshot_ItsProgressArrivingLiveAfterTheWelcome_IsNotSentTwice()
    {
        await using var harness = new RealtimeHarness();
        var transport = new RecordingTransport();
        var log = new List<OutboundMessage>();
        var snapshot = harness.Serializer.ToOutbound(harness.Message(Progress(Job, 40)) with { Seq = 5 });

        // The welcome holds the job's last published progress (seq 5), whose fan-out had not run yet.
        harness.Manager.TryAdd(transport, Job, null, [.. harness.Welcome(new PingPayload(30)), snapshot]);
        harness.FanOut.Publish(new PublishedMessage(harness.Message(Progress(Job, 40)) with { Seq = 5 }, snapshot));
        PublishAndLog(harness, log, 6);

        Assert.Equal(MessageType.Ping, (await transport.NextAsync()).Type);
        Assert.Equal(5, (await transport.NextAsync()).Seq);
        Assert.Equal(6, (await transport.NextAsync()).Seq);

        // A marker published after them comes next: a second 5 would have been queued before it (one connection's
        // messages go out in the order they were published).
        PublishAndLog(harness, log, 7);
        Assert.Equal(7, (await transport.NextAsync()).Seq);
        Assert.False(transport.TryTake(out _));
    }

    private static void PublishAndLog(RealtimeHarness harness, List<OutboundMessage> log, long seq)
    {
        var message = harness.Message(Status(Job, (int)seq)) with { Seq = seq };
        var outbound = harness.Serializer.ToOutbound(message);
        log.Add(outbound);
        harness.FanOut.Publish(new PublishedMessage(message, outbound));
    }
}
