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
        _streams = new JobStreams(new MessageSerializer(), _writer, _fanOut, Options.Create(_options), _logs.CreateLogger<JobStreams>());
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

        var history = new JobHistory(_streams, NoBackplane(), _writer, _log);
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
        var history = new JobHistory(_streams, NoBackplane(), _writer, _log);

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
    public async Task Writer_FailingLog_RetriesOnTheClockThenLogsTheBatchAsLost()
    {
        var log = Substitute.For<IJobEventLog>();
        log.AppendAsync(Arg.Any<IReadOnlyList<JobEvent>>(), Arg.Any<CancellationToken>()).Returns(Task.FromException(new IOException("disk gone")));
        var writer = new JobEventWriter(log, Options.Create(_options), _clock, _logs.CreateLogger<JobEventWriter>());
        var timers = _clock.Created;
        var running = writer.RunAsync(CancellationToken.None);

        await writer.AppendAsync(new JobEvent(Guid.NewGuid(), 1, MessageType.Progress, [], At, false));
        var flushed = writer.FlushAsync(CancellationToken.None);
        await TestSupport.Eventually.TrueAsync(() => log.ReceivedCalls().Count() == 1, "attempt 1");

        // Nothing more happens until the clock moves: once the writer waits for its retry pause on the injected clock
        // (its timer exists), no second attempt can come before the clock is advanced.
        await _clock.WaitForTimersAsync(timers + 1, "the writer waits for its retry pause on the clock");
        Assert.Single(log.ReceivedCalls());
        Assert.False(flushed.IsCompleted);
        await TestSupport.Eventually.TrueAsync(
            () =>
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
                return log.ReceivedCalls().Count() >= 5;
            },
            "five attempts");
        await flushed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(5, log.ReceivedCalls().Count());
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("Gave up writing 1 messages", StringComparison.Ordinal));
        writer.Complete();
        await running.WaitAsync(TimeSpan.FromSeconds(5));
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

    private RemoteJobStreams NoBackplane() =>
        new(_streams, _log, _fanOut, Options.Create(_options), _clock, NullLogger<RemoteJobStreams>.Instance);

    public async ValueTask DisposeAsync()
    {
        _writer.Complete();
        await _writing.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static RealtimeMessage Message(RealtimePayload payload) => new(payload, At);
}
