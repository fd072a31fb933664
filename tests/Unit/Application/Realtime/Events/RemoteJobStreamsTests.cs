using System.Text;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.UnitTests.Application.TestDoubles;
using CleanRealtime.UnitTests.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Realtime.Events;

/// <summary>
/// A node's mirror of a job that runs on another node (API.md §5): every message delivered once, in seq order, although
/// the backplane loses some and the event log lags the live feed.
/// </summary>
public sealed class RemoteJobStreamsTests : IAsyncDisposable
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly Guid _job = Guid.NewGuid();
    private readonly TimerWatchingClock _clock = new(At);
    private readonly IJobEventLog _log = Substitute.For<IJobEventLog>();
    private readonly IRealtimeBroadcaster _fanOut = Substitute.For<IRealtimeBroadcaster>();
    private readonly RecordingLoggerProvider _logs = new();
    private readonly List<JobEvent> _stored = [];
    private readonly List<OutboundMessage> _delivered = [];
    private readonly RealtimeOptions _options = new()
    {
        Backplane = "redis", BackplaneCatchUpInterval = Interval, BackplaneGapTimeout = TimeSpan.FromHours(1), ReplayTailSize = 8,
        EventLogBatchSize = 3,
    };

    private readonly JobEventWriter _writer;
    private readonly JobStreams _local;
    private readonly RemoteJobStreams _remote;

    public RemoteJobStreamsTests()
    {
        _log.ReadAsync(Arg.Any<Guid>(), Arg.Any<long>(), Arg.Any<int>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                lock (_stored)
                {
                    var (job, after, limit) = (call.ArgAt<Guid>(0), call.ArgAt<long>(1), call.ArgAt<int>(2));
                    return Task.FromResult<IReadOnlyList<JobEvent>>([.. _stored.Where(e => e.JobId == job && e.Seq > after).OrderBy(e => e.Seq).Take(limit)]);
                }
            });
        _log.GetRangeAsync(Arg.Any<Guid>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                lock (_stored)
                {
                    var kept = _stored.Where(e => e.JobId == call.ArgAt<Guid>(0)).ToList();
                    return Task.FromResult(kept.Count == 0 ? null : new JobEventRange(kept.Min(e => e.Seq), kept.Max(e => e.Seq), kept.Any(e => e.EndsJob)));
                }
            });
        _fanOut.HasSubscribers(Arg.Any<Guid?>()).Returns(true);
        _fanOut.When(f => f.Deliver(Arg.Any<Guid>(), Arg.Any<OutboundMessage>())).Do(call =>
        {
            lock (_delivered)
            {
                _delivered.Add(call.Arg<OutboundMessage>());
            }
        });

        var options = Options.Create(_options);
        _writer = new JobEventWriter(_log, options, _clock, NullLogger<JobEventWriter>.Instance);
        _local = new JobStreams(new MessageSerializer(), _writer, _fanOut, new NoSeqReservations(), options, NullLogger<JobStreams>.Instance);
        _remote = new RemoteJobStreams(_local, _log, _fanOut, options, _clock, _logs.CreateLogger<RemoteJobStreams>());
    }

    private long[] Delivered
    {
        get
        {
            lock (_delivered)
            {
                return [.. _delivered.Select(m => m.Seq!.Value)];
            }
        }
    }

    [Fact]
    public void Receive_ConsecutiveSeqs_DeliversEachAtOnceWithTheSameBytes()
    {
        var messages = Enumerable.Range(1, 4).Select(seq => Remote(seq)).ToList();

        messages.ForEach(_remote.Receive);

        Assert.Equal([1L, 2, 3, 4], Delivered);
        Assert.Equal(messages.Select(m => m.Json), _delivered.Select(m => m.Json));
        _log.DidNotReceiveWithAnyArgs().ReadAsync(default, default, default, default);
    }

    [Fact]
    public void Receive_JobNobodyFollowsHere_IsNotMirrored()
    {
        _fanOut.HasSubscribers(_job).Returns(false);

        _remote.Receive(Remote(1));

        Assert.Empty(Delivered);
        Assert.Equal(0, _remote.HighestSeen(_job));
    }

    [Fact]
    public async Task Receive_SeqJumpWhileTheLogLags_HoldsLaterMessagesUntilTheLogFillsTheGap()
    {
        _remote.Receive(Remote(1));
        _remote.Receive(Remote(2));

        // 3 and 4 were lost on the backplane; the log does not have them yet. Once the gap fill has read the log and waits
        // on the clock to read it again, nothing can be delivered before the clock moves.
        var timers = _clock.Created;
        _remote.Receive(Remote(5));
        _remote.Receive(Remote(6));
        await _clock.WaitForTimersAsync(timers + 1, "the gap fill waits on the clock for the log");
        Assert.Equal([1L, 2], Delivered);

        Store(1, 2, 3, 4, 5);
        await AdvanceUntilAsync(() => Delivered.Length == 6, "the gap is filled");
        _remote.Receive(Remote(7));

        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], Delivered);
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("filled seq 3 to", StringComparison.Ordinal));
        // 3 and 4, and 5, which the log held by then too (the held copy is not delivered again).
        Assert.Equal(3, _remote.FilledFromLog);
        Assert.Equal(0, _remote.Skipped);
    }

    [Fact]
    public async Task Receive_MessagesTheLogAlreadyFilled_AreNotDeliveredTwice()
    {
        _remote.Receive(Remote(1));
        Store(1, 2, 3, 4);
        _remote.Receive(Remote(4));
        await Eventually.TrueAsync(() => Delivered.Length == 4, "the gap is filled");

        // The backplane brings the lost ones late (a paused Redis): already delivered.
        _remote.Receive(Remote(2));
        _remote.Receive(Remote(3));
        _remote.Receive(Remote(4));
        _remote.Receive(Remote(5));

        await Eventually.TrueAsync(() => Delivered.Length >= 5, "5 is delivered");
        Assert.Equal([1L, 2, 3, 4, 5], Delivered);
    }

    [Fact]
    public async Task LinkRestored_EndLostWhileDown_IsDeliveredFromTheLog()
    {
        _remote.Receive(Remote(1));
        _remote.LinkLost();
        Store(1, 2, 3);
        Store(4, endsJob: true);

        _remote.LinkRestored();

        await Eventually.TrueAsync(() => Delivered.Length == 4, "the mirror caught up");
        Assert.Equal([1L, 2, 3, 4], Delivered);
        Assert.Contains(_logs.Entries, e => e.Message.Contains("Backplane link lost", StringComparison.Ordinal));
        Assert.Contains(_logs.Entries, e => e.Message.Contains("Backplane link restored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sweep_WhileTheLinkIsDown_DeliversFromTheLogEachInterval()
    {
        _remote.Receive(Remote(1));
        _remote.LinkLost();
        Store(1, 2);

        await _remote.SweepAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => Delivered.Length == 2, "the first sweep read the log");
        Store(3);

        await Eventually.TrueAsync(() => Sweep() && Delivered.Length == 3, "a later sweep read the log");
        Assert.Equal([1L, 2, 3], Delivered);
    }

    [Fact]
    public async Task Sweep_MirrorThatHeardNothingForAnInterval_CatchesUpTheLostEnd()
    {
        _remote.Receive(Remote(1));
        Store(1);
        Store(2, endsJob: true);

        await _remote.SweepAsync(CancellationToken.None);
        Assert.Empty(Delivered[1..]);
        _clock.Advance(Interval);
        await _remote.SweepAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => Delivered.Length == 2, "the end was read from the log");
        await Eventually.TrueAsync(() => Sweep() && _remote.HighestSeen(_job) == 0, "the ended mirror is dropped");
    }

    [Fact]
    public async Task Fill_GapTheLogNeverGets_IsSkippedAfterTheTimeoutAndLoggedAsAnError()
    {
        _options.BackplaneGapTimeout = TimeSpan.FromSeconds(5);
        _remote.Receive(Remote(1));
        _remote.Receive(Remote(3));

        await AdvanceUntilAsync(() => Delivered.Length == 2, "the gap was given up");

        Assert.Equal([1L, 3], Delivered);
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("seq 2 to 2 are not in the event log", StringComparison.Ordinal));
        Assert.Equal(1, _remote.Skipped);
    }

    [Fact]
    public async Task Fill_LogHoldsTheEndAfterSeqsItNeverGot_SkipsThemAtOnceDeliversTheEndAndDropsTheMirror()
    {
        // 3..5 were published but lost on the way here, and their worker died before storing them; another node
        // wrote the job's end after them. The gap timeout (an hour) is not what ends the wait.
        _remote.Receive(Remote(1));
        _remote.Receive(Remote(2));
        Store(1, 2);
        Store(6, endsJob: true);

        _clock.Advance(Interval);
        await _remote.SweepAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => Delivered.Length == 3, "the end was delivered");
        Assert.Equal([1L, 2, 6], Delivered);
        await Eventually.TrueAsync(() => _remote.HighestSeen(_job) == 0, "the mirror is dropped: the log is the job's history now");
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("seq 3 to 5 are not in the event log, which holds the job's end", StringComparison.Ordinal));
        Assert.Equal(3, _remote.Skipped);
    }

    [Fact]
    public async Task Fill_EndStoredRightAfterWhatWasDeliveredLive_IsDeliveredAndTheMirrorDropped()
    {
        // Delivered live up to 4; the log kept 1..2 only, and the end was numbered after the last published seq.
        foreach (var seq in new long[] { 1, 2, 3, 4 })
        {
            _remote.Receive(Remote(seq));
        }

        Assert.Equal(4, _remote.HighestSeen(_job));
        Store(1, 2);
        Store(5, endsJob: true);

        _clock.Advance(Interval);
        await _remote.SweepAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => Delivered.Length == 5, "the end was delivered");
        Assert.Equal([1L, 2, 3, 4, 5], Delivered);
        await Eventually.TrueAsync(() => _remote.HighestSeen(_job) == 0, "the mirror is dropped");
        Assert.Equal(0, _remote.HighestSeen(_job));
    }

    [Fact]
    public void HighestSeen_MessageBehindAGap_CountsTheHighestHeardOf()
    {
        _remote.Receive(Remote(1));
        _remote.Receive(Remote(7));

        Assert.Equal(7, _remote.HighestSeen(_job));
        Assert.Equal(0, _remote.HighestSeen(Guid.NewGuid()));
    }

    [Fact]
    public async Task TryRead_BeforeTheMirrorsTail_ReadsTheLogAndWaitsWhileItLags()
    {
        _remote.Receive(Remote(5));
        Store(1, 2, 3);

        // A resume after 2: 3 is in the log, 4 not yet, 5 is in the mirror's tail only.
        var first = await _remote.TryReadAsync(_job, 2, 10, CancellationToken.None);
        Assert.Equal([3L], first!.Select(m => m.Seq!.Value));
        var timers = _clock.Created;
        var waiting = _remote.TryReadAsync(_job, 3, 10, CancellationToken.None);
        await _clock.WaitForTimersAsync(timers + 1, "the read waits on the clock for the log");
        Assert.False(waiting.IsCompleted);
        Store(4);
        await AdvanceUntilAsync(() => waiting.IsCompleted, "the log got seq 4");

        Assert.Equal([4L], (await waiting)!.Select(m => m.Seq!.Value));
        Assert.Equal([5L], (await _remote.TryReadAsync(_job, 4, 10, CancellationToken.None))!.Select(m => m.Seq!.Value));
        Assert.Equal([5L], Delivered);
    }

    [Fact]
    public async Task Follow_ThenAMessageAfterAGap_DeliversTheGapFromTheLogFirst()
    {
        Store(1, 2, 3, 4);
        Assert.True(_remote.Follow(_job, 2));

        _remote.Receive(Remote(5));

        await Eventually.TrueAsync(() => Delivered.Length == 3, "the gap is filled");
        Assert.Equal([3L, 4, 5], Delivered);
    }

    [Fact]
    public async Task Follow_JobPublishedOnThisNode_IsNotMirrored()
    {
        await _local.PublishAsync(new RealtimeMessage(new ProgressPayload(_job, 0), At));

        Assert.False(_remote.Follow(_job, 0));
        Assert.False(_remote.RunsElsewhere(_job));
        Assert.Null(await _remote.TryReadAsync(_job, 0, 10, CancellationToken.None));
    }

    [Fact]
    public void Receive_WithoutBackplane_IsIgnored()
    {
        _options.Backplane = "none";

        _remote.Receive(Remote(1));

        Assert.False(_remote.Follow(_job, 0));
        Assert.Empty(Delivered);
    }

    public async ValueTask DisposeAsync()
    {
        _remote.Dispose();
        _writer.Complete();
        await _writer.RunAsync(CancellationToken.None);
    }

    private bool Sweep()
    {
        _remote.SweepAsync(CancellationToken.None).GetAwaiter().GetResult();
        return true;
    }

    private BackplaneMessage Remote(long seq, bool endsJob = false) =>
        new("node-b", _job, seq, MessageType.Frame, endsJob, Bytes(seq));

    private void Store(params long[] seqs) => Store(seqs, endsJob: false);

    private void Store(long seq, bool endsJob) => Store([seq], endsJob);

    private void Store(long[] seqs, bool endsJob)
    {
        lock (_stored)
        {
            foreach (var seq in seqs.Where(s => _stored.All(e => e.Seq != s)))
            {
                _stored.Add(new JobEvent(_job, seq, MessageType.Frame, Bytes(seq), At, endsJob));
            }
        }
    }

    private static byte[] Bytes(long seq) => Encoding.UTF8.GetBytes($"{{\"type\":\"frame\",\"seq\":{seq}}}");

    /// <summary>Moves the fake clock one interval at a time (waking the retries) until the condition holds.</summary>
    private Task AdvanceUntilAsync(Func<bool> condition, string what) =>
        Eventually.TrueAsync(
            () =>
            {
                if (condition())
                {
                    return true;
                }

                _clock.Advance(Interval);
                return false;
            },
            what);
}
