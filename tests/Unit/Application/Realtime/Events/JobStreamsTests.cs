using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.UnitTests.Application.TestDoubles;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;
using static CleanRealtime.UnitTests.Api.Realtime.TestPayloads;

namespace CleanRealtime.UnitTests.Application.Realtime.Events;

/// <summary>API.md §3.8: seq per job, the in-memory tail, the batched event log, and reading history back.</summary>
public sealed class JobStreamsTests : IAsyncDisposable
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly TestSupport.TimerWatchingClock _clock = new(At);
    private readonly IJobEventLog _log = Substitute.For<IJobEventLog>();
    private readonly IRealtimeBroadcaster _fanOut = Substitute.For<IRealtimeBroadcaster>();
    private readonly RealtimeOptions _options = new() { ReplayTailSize = 4, EventLogBatchSize = 3 };
    private readonly List<JobEvent> _stored = [];
    private readonly RecordingLoggerProvider _logs = new();
    private readonly JobEventWriter _writer;
    private readonly JobStreams _streams;
    private readonly Task _writing;

    public JobStreamsTests()
    {
        _log.AppendAsync(Arg.Any<IReadOnlyList<JobEvent>>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                lock (_stored)
                {
                    _stored.AddRange(call.Arg<IReadOnlyList<JobEvent>>());
                }

                return Task.CompletedTask;
            });
        _writer = new JobEventWriter(_log, Options.Create(_options), _clock, _logs.CreateLogger<JobEventWriter>());
        _streams = new JobStreams(new MessageSerializer(), _writer, _fanOut, new NoSeqReservations(), Options.Create(_options), _logs.CreateLogger<JobStreams>());
        _writing = _writer.RunAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Publish_MessagesOfTwoJobs_EachJobCountsFromOneWithoutGaps()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();

        await _streams.PublishAsync(Message(Progress(a, 0)));
        await _streams.PublishAsync(Message(Progress(b, 0)));
        await _streams.PublishAsync(Message(Frame(a, 1)));
        await _streams.PublishAsync(Message(Progress(a, 50)), endsJob: true);
        await _writer.FlushAsync(CancellationToken.None);

        Assert.Equal([1L, 2, 3], _stored.Where(e => e.JobId == a).Select(e => e.Seq));
        Assert.Equal([1L], _stored.Where(e => e.JobId == b).Select(e => e.Seq));
        Assert.Equal([false, false, true], _stored.Where(e => e.JobId == a).Select(e => e.EndsJob));
        _fanOut.Received(4).Publish(Arg.Any<PublishedMessage>());
    }

    [Fact]
    public async Task Publish_WritesSeqIntoTheEnvelopeTheLogAndTheFanOutAlike()
    {
        var job = Guid.NewGuid();
        PublishedMessage? published = null;
        _fanOut.When(f => f.Publish(Arg.Any<PublishedMessage>())).Do(c => published = c.Arg<PublishedMessage>());

        await _streams.PublishAsync(Message(Progress(job, 0)));
        await _streams.PublishAsync(Message(Progress(job, 7)));
        await _writer.FlushAsync(CancellationToken.None);

        using var envelope = JsonDocument.Parse(published!.Value.Outbound.Json);
        Assert.Equal(2, envelope.RootElement.GetProperty("seq").GetInt64());
        Assert.Equal(2, published.Value.Message.Seq);
        Assert.Equal(2, published.Value.Outbound.Seq);
        Assert.Same(published.Value.Outbound.Json, _stored[^1].Json);
    }

    [Fact]
    public async Task Publish_UnserializableMessage_IsDroppedAndLoggedWithoutUsingASeq()
    {
        var job = Guid.NewGuid();

        await _streams.PublishAsync(Message(Progress(job, 0)));
        await _streams.PublishAsync(new RealtimeMessage(new FramePayload(job, "1", "ocr", default, 1), At));
        await _streams.PublishAsync(Message(Progress(job, 9)));
        await _writer.FlushAsync(CancellationToken.None);

        Assert.Equal([1L, 2], _stored.Select(e => e.Seq));
        Assert.Equal([MessageType.Progress, MessageType.Progress], _stored.Select(e => e.Type));
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("could not be serialized", StringComparison.Ordinal));
    }

    [Fact]
    public async Task History_ResumePointInTheTail_ReadsNoDatabase()
    {
        var job = Guid.NewGuid();
        for (var i = 0; i < 6; i++)
        {
            await _streams.PublishAsync(Message(Frame(job, i)));
        }

        var history = NewHistory();
        var page = await history.ReadAsync(job, afterSeq: 3, limit: 10, CancellationToken.None);

        Assert.Equal([4L, 5, 6], page.Select(m => m.Seq!.Value));
        await _log.DidNotReceive().ReadAsync(Arg.Any<Guid>(), Arg.Any<long>(), Arg.Any<int>(), Arg.Any<CancellationToken>());
        Assert.Equal(new JobEventRange(1, 6, false), await history.RangeAsync(job, CancellationToken.None));
    }

    [Fact]
    public async Task History_ResumePointOlderThanTheTail_FlushesThenReadsTheLog()
    {
        var job = Guid.NewGuid();
        for (var i = 0; i < 6; i++)
        {
            await _streams.PublishAsync(Message(Frame(job, i)));
        }

        _log.ReadAsync(job, 1, 10, Arg.Any<CancellationToken>()).Returns(_ => _stored.Where(e => e.Seq > 1).ToList());
        var history = NewHistory();

        var page = await history.ReadAsync(job, afterSeq: 1, limit: 10, CancellationToken.None);

        Assert.Equal([2L, 3, 4, 5, 6], page.Select(m => m.Seq!.Value));
    }

    [Fact]
    public async Task Complete_FlushesTheLogThenForgetsTheStream()
    {
        var job = Guid.NewGuid();
        await _streams.PublishAsync(Message(Progress(job, 100)), endsJob: true);

        await _streams.CompleteAsync(job, CancellationToken.None);

        Assert.Single(_stored);
        Assert.False(_streams.TryGet(job, out _));
    }

    [Fact]
    public async Task Writer_FailingLog_RetriesOnTheClockForItsRetryTime_ThenReportsTheBatchAsLost()
    {
        var log = Substitute.For<IJobEventLog>();
        log.AppendAsync(Arg.Any<IReadOnlyList<JobEvent>>(), Arg.Any<CancellationToken>()).Returns(Task.FromException(new IOException("disk gone")));
        var options = new RealtimeOptions { EventLogBatchSize = 3, EventLogRetryFor = TimeSpan.FromSeconds(20) };
        var writer = new JobEventWriter(log, Options.Create(options), _clock, _logs.CreateLogger<JobEventWriter>());
        var lost = new List<(Guid, long, long)>();
        writer.Lost += (job, first, last) => lost.Add((job, first, last));
        var timers = _clock.Created;
        var running = writer.RunAsync(CancellationToken.None);
        var job = Guid.NewGuid();

        await writer.AppendAsync(new JobEvent(job, 1, MessageType.Progress, [], At, false));
        await writer.AppendAsync(new JobEvent(job, 2, MessageType.Frame, [], At, false));
        var flushed = writer.FlushAsync(CancellationToken.None);
        await TestSupport.Eventually.TrueAsync(() => log.ReceivedCalls().Count() == 1, "attempt 1");

        // Nothing more happens until the clock moves: once the writer waits for its retry pause on the injected clock
        // (its timer exists), no second attempt can come before the clock is advanced.
        await _clock.WaitForTimersAsync(timers + 1, "the writer waits for its retry pause on the clock");
        Assert.Single(log.ReceivedCalls());
        Assert.NotNull(writer.Health.Failing);

        // It retries as the clock moves: 19 s later it still holds the batch.
        for (var i = 0; i < 19; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            await TestSupport.Eventually.TrueAsync(() => log.ReceivedCalls().Count() >= Math.Min(i + 2, 5), $"retry after {i + 1} s");
        }

        Assert.False(flushed.IsCompleted);
        Assert.Equal(0, writer.Health.MessagesLost);
        Assert.Empty(lost);

        await TestSupport.Eventually.TrueAsync(
            () =>
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
                return flushed.IsCompleted;
            },
            "given up");
        Assert.Equal([(job, 1L, 2L)], lost);
        Assert.Equal(2, writer.Health.MessagesLost);
        Assert.True(writer.Health.WriteFailures >= 6);
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("Gave up writing 2 messages", StringComparison.Ordinal));
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains($"Messages 1-2 of job {job}", StringComparison.Ordinal));

        // The store is back: the next write succeeds and the writer is healthy again.
        log.AppendAsync(Arg.Any<IReadOnlyList<JobEvent>>(), Arg.Any<CancellationToken>()).Returns(Task.CompletedTask);
        await writer.AppendAsync(new JobEvent(job, 3, MessageType.Frame, [], At, false));
        await writer.FlushAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Null(writer.Health.Failing);
        writer.Complete();
        await running.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Writer_LogBackWithinTheRetryTime_LosesNothing()
    {
        var log = Substitute.For<IJobEventLog>();
        var stored = new List<JobEvent>();
        var failures = 3;
        log.AppendAsync(Arg.Any<IReadOnlyList<JobEvent>>(), Arg.Any<CancellationToken>()).Returns(call =>
        {
            if (Interlocked.Decrement(ref failures) >= 0)
            {
                return Task.FromException(new IOException("database is locked"));
            }

            stored.AddRange(call.Arg<IReadOnlyList<JobEvent>>());
            return Task.CompletedTask;
        });
        var writer = new JobEventWriter(log, Options.Create(_options), _clock, _logs.CreateLogger<JobEventWriter>());
        var running = writer.RunAsync(CancellationToken.None);
        var job = Guid.NewGuid();

        await writer.AppendAsync(new JobEvent(job, 1, MessageType.Progress, [], At, false));
        var flushed = writer.FlushAsync(CancellationToken.None);
        await TestSupport.Eventually.TrueAsync(
            () =>
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
                return flushed.IsCompleted;
            },
            "stored after three failures");

        Assert.Equal([1L], stored.Select(e => e.Seq));
        Assert.Equal(0, writer.Health.MessagesLost);
        Assert.Null(writer.Health.Failing);
        writer.Complete();
        await running.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Streams_MessagesTheLogLost_AreAnnouncedByAWarningBeforeTheJobsNextMessage()
    {
        var log = Substitute.For<IJobEventLog>();
        var stored = new List<JobEvent>();
        var failing = true;
        log.AppendAsync(Arg.Any<IReadOnlyList<JobEvent>>(), Arg.Any<CancellationToken>()).Returns(call =>
        {
            if (Volatile.Read(ref failing))
            {
                return Task.FromException(new IOException("database is locked"));
            }

            lock (stored)
            {
                stored.AddRange(call.Arg<IReadOnlyList<JobEvent>>());
            }

            return Task.CompletedTask;
        });
        var options = new RealtimeOptions { EventLogBatchSize = 10, EventLogRetryFor = TimeSpan.FromSeconds(1) };
        var writer = new JobEventWriter(log, Options.Create(options), _clock, NullLogger<JobEventWriter>.Instance);
        var streams = new JobStreams(new MessageSerializer(), writer, _fanOut, new NoSeqReservations(), Options.Create(options), NullLogger<JobStreams>.Instance);
        var running = writer.RunAsync(CancellationToken.None);
        var job = Guid.NewGuid();

        await streams.PublishAsync(Message(Progress(job, 0)));
        await streams.PublishAsync(Message(Frame(job, 1)));
        var flushed = writer.FlushAsync(CancellationToken.None);
        await TestSupport.Eventually.TrueAsync(
            () =>
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
                return flushed.IsCompleted;
            },
            "given up");
        Volatile.Write(ref failing, false);

        await streams.PublishAsync(Message(Frame(job, 2)));
        await writer.FlushAsync(CancellationToken.None);

        // seq 3 is the warning, published before the frame that came next (seq 4); both stored, both on the live feed.
        Assert.Equal([3L, 4L], stored.Select(e => e.Seq));
        Assert.Equal(MessageType.Warning, stored[0].Type);
        using var warning = JsonDocument.Parse(stored[0].Json);
        var payload = warning.RootElement.GetProperty("payload");
        Assert.Equal(JobStreams.ServerWarningSource, payload.GetProperty("plugin").GetString());
        Assert.Contains("Messages 1-2 of this job could not be stored", payload.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("high", payload.GetProperty("severity").GetString());
        _fanOut.Received(1).Publish(Arg.Is<PublishedMessage>(m => m.Outbound.Seq == 3 && m.Outbound.Type == MessageType.Warning));
        writer.Complete();
        await running.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Publish_ReservesEachBlockOfSeqsBeforeItsFirstIsPublished_OncePerBlock()
    {
        var job = Guid.NewGuid();
        var order = new List<string>();
        var published = Substitute.For<ISeqReservations>();
        published.ReserveAsync(job, Arg.Any<long>(), Arg.Any<CancellationToken>()).Returns(call =>
        {
            order.Add($"reserve {call.ArgAt<long>(1)}");
            return call.ArgAt<long>(1);
        });
        _fanOut.When(f => f.Publish(Arg.Any<PublishedMessage>())).Do(call => order.Add($"publish {call.Arg<PublishedMessage>().Outbound.Seq}"));
        var streams = new JobStreams(
            new MessageSerializer(), _writer, _fanOut, published, Options.Create(new RealtimeOptions { SeqReservationBlock = 3 }), NullLogger<JobStreams>.Instance);

        for (var i = 1; i <= 7; i++)
        {
            await streams.PublishAsync(Message(Frame(job, i)));
        }

        Assert.Equal(
            ["reserve 3", "publish 1", "publish 2", "publish 3", "reserve 6", "publish 4", "publish 5", "publish 6", "reserve 9", "publish 7"],
            order);
    }

    [Fact]
    public async Task Publish_StoreCannotRecordAReservation_PublishesTheBlockAnywayAndLogsAnError()
    {
        var job = Guid.NewGuid();
        var published = Substitute.For<ISeqReservations>();
        published.ReserveAsync(job, Arg.Any<long>(), Arg.Any<CancellationToken>())
            .Returns(Task.FromException<long>(new PublishedSeqsUnavailableException("the store is locked")));
        var streams = new JobStreams(
            new MessageSerializer(), _writer, _fanOut, published, Options.Create(new RealtimeOptions { SeqReservationBlock = 4 }), _logs.CreateLogger<JobStreams>());

        for (var i = 1; i <= 5; i++)
        {
            await streams.PublishAsync(Message(Frame(job, i)));
        }

        // One attempt per block, never one per message; every message still goes out, numbered 1..5.
        await published.Received(1).ReserveAsync(job, 4, Arg.Any<CancellationToken>());
        await published.Received(1).ReserveAsync(job, 8, Arg.Any<CancellationToken>());
        Assert.Equal(2, published.ReceivedCalls().Count());
        _fanOut.Received(5).Publish(Arg.Any<PublishedMessage>());
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("seq 1 to 4 could not be reserved", StringComparison.Ordinal));
    }

    [Fact]
    public async Task History_HoleInTheLog_APageStopsBeforeIt_AndThePageAtItNamesTheMissingRange()
    {
        var job = Guid.NewGuid();
        var kept = new[] { 1L, 2, 3, 7, 8 }.Select(seq => new JobEvent(job, seq, MessageType.Frame, [], At, seq == 8)).ToList();
        _log.ReadAsync(job, Arg.Any<long>(), Arg.Any<int>(), Arg.Any<CancellationToken>())
            .Returns(call => kept.Where(e => e.Seq > call.ArgAt<long>(1)).Take(call.ArgAt<int>(2)).ToList());
        var history = NewHistory();

        var before = await history.ReadPageAsync(job, afterSeq: 1, limit: 10, CancellationToken.None);
        var atTheHole = await history.ReadPageAsync(job, afterSeq: 3, limit: 10, CancellationToken.None);
        var after = await history.ReadPageAsync(job, afterSeq: 6, limit: 10, CancellationToken.None);

        Assert.Equal([2L, 3], before.Items.Select(m => m.Seq!.Value));
        Assert.Null(before.Missing);
        Assert.Empty(atTheHole.Items);
        Assert.Equal(new SeqRange(4, 6), atTheHole.Missing!.Missing);
        Assert.Equal(7, atTheHole.Missing.FirstSeq);
        Assert.Equal([7L, 8], after.Items.Select(m => m.Seq!.Value));
        Assert.Equal(1, _writer.Health.GapsReported);
    }

    [Fact]
    public async Task History_Subscriber_GetsReplayUnavailableInPlaceOfTheHole_ThenWhatFollows()
    {
        var job = Guid.NewGuid();
        var kept = new[] { 1L, 2, 5, 6, 9 }.Select(seq => new JobEvent(job, seq, MessageType.Frame, [], At, seq == 9)).ToList();
        _log.ReadAsync(job, Arg.Any<long>(), Arg.Any<int>(), Arg.Any<CancellationToken>())
            .Returns(call => kept.Where(e => e.Seq > call.ArgAt<long>(1)).Take(call.ArgAt<int>(2)).ToList());
        var history = NewHistory();

        var first = await history.ReadForSubscriberAsync(job, afterSeq: 0, limit: 10, CancellationToken.None);
        var second = await history.ReadForSubscriberAsync(job, afterSeq: 2, limit: 10, CancellationToken.None);
        var third = await history.ReadForSubscriberAsync(job, afterSeq: 6, limit: 10, CancellationToken.None);

        Assert.Equal([1L, 2], first.Select(m => m.Seq!.Value));
        Assert.Equal([null, 5L, 6], second.Select(m => m.Seq));
        Assert.Equal(MessageType.Error, second[0].Type);
        using var error = JsonDocument.Parse(second[0].Json);
        var details = error.RootElement.GetProperty("payload").GetProperty("details");
        Assert.Equal("REPLAY_UNAVAILABLE", details.GetProperty("error_code").GetString());
        Assert.Contains("Messages 3-4 of job", details.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal([null, 9L], third.Select(m => m.Seq));
        Assert.Equal(2, _writer.Health.GapsReported);
    }

    [Fact]
    public async Task Writer_ManyMessages_AreWrittenInBatchesInOrder()
    {
        var job = Guid.NewGuid();
        for (var i = 1; i <= 10; i++)
        {
            await _writer.AppendAsync(new JobEvent(job, i, MessageType.Frame, [], At, false));
        }

        await _writer.FlushAsync(CancellationToken.None);

        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), _stored.Select(e => e.Seq));
        Assert.All(
            _log.ReceivedCalls().Select(c => ((IReadOnlyList<JobEvent>)c.GetArguments()[0]!).Count),
            count => Assert.InRange(count, 1, _options.EventLogBatchSize));
    }

    [Fact]
    public async Task Writer_FlushWithNothingPending_ReturnsAtOnce()
    {
        var writer = new JobEventWriter(_log, Options.Create(_options), _clock, NullLogger<JobEventWriter>.Instance);

        // No loop runs this writer: only a flush that waits for nothing can complete.
        await writer.FlushAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Retention_PurgesJobsThatEndedBeforeNowMinusRetention_OnTheInjectedClock()
    {
        var options = Options.Create(new RealtimeOptions { ReplayRetention = TimeSpan.FromHours(24), ReplayPurgeInterval = TimeSpan.FromMinutes(10) });
        var retention = new ReplayRetention(_log, options, _clock, NullLogger<ReplayRetention>.Instance);
        using var stopping = new CancellationTokenSource();

        var timers = _clock.Created;
        var running = retention.RunAsync(stopping.Token);
        await TestSupport.Eventually.TrueAsync(() => Purges().Count == 1, "first purge");

        // It waits for the interval on the clock: 9 minutes on do not wake it (a timer fires inside Advance), 10 do.
        await _clock.WaitForTimersAsync(timers + 1, "the purge waits for its interval on the clock");
        Assert.Equal(TimeSpan.FromMinutes(10), _clock.DueTimes[^1]);
        var fired = _clock.Fired;
        _clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(fired, _clock.Fired);
        Assert.Single(Purges());
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(fired + 1, _clock.Fired);
        await TestSupport.Eventually.TrueAsync(() => Purges().Count == 2, "second purge, an interval later");
        await stopping.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.Equal(At - TimeSpan.FromHours(24), Purges()[0]);
        Assert.InRange(Purges()[1], At + TimeSpan.FromMinutes(10) - TimeSpan.FromHours(24), _clock.GetUtcNow() - TimeSpan.FromHours(24));
    }

    private List<DateTimeOffset> Purges() =>
        [.. _log.ReceivedCalls().Where(c => c.GetMethodInfo().Name == nameof(IJobEventLog.PurgeAsync)).Select(c => (DateTimeOffset)c.GetArguments()[0]!)];

    [Fact]
    public void Tail_PastItsCapacity_NoLongerHoldsTheOldest()
    {
        var stream = new JobStream(Guid.NewGuid(), capacity: 3);
        for (var seq = 1; seq <= 5; seq++)
        {
            stream.Add(new OutboundMessage(seq == 4 ? MessageType.Progress : MessageType.Frame, [], seq));
        }

        var page = new List<OutboundMessage>();
        Assert.False(stream.TryRead(1, 10, page));
        Assert.True(stream.TryRead(2, 10, page));
        Assert.Equal([3L, 4, 5], page.Select(m => m.Seq!.Value));
        Assert.Equal(4, stream.LastProgress!.Value.Seq);
        Assert.Throws<ArgumentException>(() => stream.Add(new OutboundMessage(MessageType.Frame, [], 9)));
    }

    private JobHistory NewHistory() =>
        new(_streams, NoBackplane(), _writer, _log, new RealtimeMessages(_clock, NullLogger<RealtimeMessages>.Instance),
            new MessageSerializer());

    private RemoteJobStreams NoBackplane() =>
        new(_streams, _log, _fanOut, Options.Create(_options), _clock, NullLogger<RemoteJobStreams>.Instance);

    public async ValueTask DisposeAsync()
    {
        _writer.Complete();
        await _writing.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static RealtimeMessage Message(RealtimePayload payload) => new(payload, At);
}
