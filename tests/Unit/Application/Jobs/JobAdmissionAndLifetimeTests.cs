using CleanRealtime.Application.Common;
using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.CreateJob;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Application.Jobs.FailLostJob;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Jobs.PurgeJobs;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

/// <summary>The queue caps of job admission, retention of finished jobs, and failing a job whose worker vanished.</summary>
public sealed class JobAdmissionAndLifetimeTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    private readonly IJobRepository _repository = Substitute.For<IJobRepository>();
    private readonly IJobQueue _queue = Substitute.For<IJobQueue>();
    private readonly IJobEventLog _events = Substitute.For<IJobEventLog>();
    private readonly JobAdmission _admission = new();
    private readonly FakeTimeProvider _clock = new(Now);
    private readonly JobsOptions _options = new() { MaxQueuedJobs = 10, MaxQueuedJobsPerClient = 2, Retention = TimeSpan.FromDays(7) };
    private readonly IPublishedSeqs _published = Substitute.For<IPublishedSeqs>();
    private readonly RemoteJobStreams _remote;
    private readonly JobStreams _streams;

    public JobAdmissionAndLifetimeTests()
    {
        var options = Options.Create(new RealtimeOptions());
        var fanOut = Substitute.For<IRealtimeBroadcaster>();
        var local = _streams = new JobStreams(
            new MessageSerializer(), new JobEventWriter(_events, options, _clock, NullLogger<JobEventWriter>.Instance), fanOut, new NoSeqReservations(), options,
            NullLogger<JobStreams>.Instance);
        _remote = new RemoteJobStreams(local, _events, fanOut, options, _clock, NullLogger<RemoteJobStreams>.Instance);
    }

    public void Dispose()
    {
        _admission.Dispose();
        _remote.Dispose();
    }

    [Fact]
    public async Task CreateJob_ServerQueueFull_IsRefusedWithRetryAfterAndNothingStored()
    {
        _repository.CountQueuedAsync(null, Arg.Any<CancellationToken>()).Returns(10);

        var refused = await Assert.ThrowsAsync<CapacityExceededException>(() => Create("key:a"));

        Assert.Contains("10 jobs waiting", refused.Message, StringComparison.Ordinal);
        Assert.Equal(CreateJobHandler.QueueRetryAfter, refused.RetryAfter);
        await _repository.DidNotReceiveWithAnyArgs().AddAsync(default!, default, default);
        await _queue.DidNotReceiveWithAnyArgs().EnqueueAsync(default, default);
    }

    [Fact]
    public async Task CreateJob_ClientAtItsShare_IsRefusedWhileAnotherClientIsAccepted()
    {
        _repository.CountQueuedAsync(null, Arg.Any<CancellationToken>()).Returns(3);
        _repository.CountQueuedAsync("key:a", Arg.Any<CancellationToken>()).Returns(2);
        _repository.CountQueuedAsync("key:b", Arg.Any<CancellationToken>()).Returns(1);

        var refused = await Assert.ThrowsAsync<CapacityExceededException>(() => Create("key:a"));
        var accepted = await Create("key:b");

        Assert.Contains("You already have 2 jobs waiting", refused.Message, StringComparison.Ordinal);
        await _repository.Received(1).AddAsync(Arg.Is<Job>(j => j.Id == accepted.Id), "key:b", Arg.Any<CancellationToken>());
        await _queue.Received(1).EnqueueAsync(accepted.Id, Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task PurgeExpiredJobs_DeletesWhatEndedBeforeNowMinusRetention()
    {
        _repository.DeleteFinishedAsync(Now - TimeSpan.FromDays(7), Arg.Any<CancellationToken>()).Returns(4);
        var handler = new PurgeExpiredJobsHandler(_repository, Options.Create(_options), _clock, NullLogger<PurgeExpiredJobsHandler>.Instance);

        Assert.Equal(4, await handler.Handle(new PurgeExpiredJobs(), CancellationToken.None));
    }

    [Fact]
    public async Task FailLostJob_RunningJob_IsFailedWithWorkerLost()
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], Now);
        job.Start(Now);
        _repository.FindStateAsync(job.Id, Arg.Any<CancellationToken>()).Returns(job.ToMemento(includeFrames: false));
        _events.GetRangeAsync(job.Id, Arg.Any<CancellationToken>()).Returns(new JobEventRange(1, 41, false));
        var logged = new List<JobEvent>();
        _events.When(e => e.AppendAsync(Arg.Any<IReadOnlyList<JobEvent>>(), Arg.Any<CancellationToken>()))
            .Do(c => logged.AddRange(c.Arg<IReadOnlyList<JobEvent>>()));
        var handler = new FailLostJobHandler(_repository, Ending(), NullLogger<FailLostJobHandler>.Instance);

        Assert.True(await handler.Handle(new FailLostJob(job.Id), CancellationToken.None));

        // Its stream ends in the log after the last message kept: WORKER_LOST, then progress 100 failed.
        Assert.Equal([42L, 43], logged.Select(e => e.Seq));
        Assert.Equal([MessageType.Error, MessageType.Progress], logged.Select(e => e.Type));
        Assert.Contains("\"error_code\":\"WORKER_LOST\"", System.Text.Encoding.UTF8.GetString(logged[0].Json), StringComparison.Ordinal);
        Assert.Contains("\"stage\":\"failed\"", System.Text.Encoding.UTF8.GetString(logged[1].Json), StringComparison.Ordinal);
        Assert.Equal([false, true], logged.Select(e => e.EndsJob));

        await _repository.Received(1).SaveAsync(
            Arg.Is<JobMemento>(m => m.Status == JobStatus.Failed && m.Error!.StartsWith("WORKER_LOST: ", StringComparison.Ordinal) && m.CompletedAt == Now),
            Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task FailLostJob_ItsWorkerPublishedMoreThanTheLogKept_EndIsNumberedAfterTheLastPublishedSeq()
    {
        var job = RunningJob();
        _events.GetRangeAsync(job.Id, Arg.Any<CancellationToken>()).Returns(new JobEventRange(1, 394, false));
        _published.CloseAsync(job.Id, Arg.Any<CancellationToken>()).Returns(460L);
        var logged = RecordAppends();
        var handler = new FailLostJobHandler(_repository, Ending(), NullLogger<FailLostJobHandler>.Instance);

        Assert.True(await handler.Handle(new FailLostJob(job.Id), CancellationToken.None));

        // 395..460 reached subscribers through the backplane but not the store: never numbered again.
        Assert.Equal([461L, 462], logged.Select(e => e.Seq));
        Assert.Equal([false, true], logged.Select(e => e.EndsJob));
    }

    [Fact]
    public async Task FailLostJob_LogAlreadyHoldsTheJobsEnd_WritesNoSecondEndAndSavesTheState()
    {
        var job = RunningJob();
        _events.GetRangeAsync(job.Id, Arg.Any<CancellationToken>()).Returns(new JobEventRange(1, 43, true));
        _published.CloseAsync(job.Id, Arg.Any<CancellationToken>()).Returns(43L);
        var handler = new FailLostJobHandler(_repository, Ending(), NullLogger<FailLostJobHandler>.Instance);

        Assert.True(await handler.Handle(new FailLostJob(job.Id), CancellationToken.None));

        await _events.DidNotReceiveWithAnyArgs().AppendAsync(default!, default);
        await _repository.Received(1).SaveAsync(Arg.Is<JobMemento>(m => m.Status == JobStatus.Failed), Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task FailLostJob_BackplaneCannotSayWhatWasPublished_WritesNothingAndReportsNotFailed()
    {
        var job = RunningJob();
        _events.GetRangeAsync(job.Id, Arg.Any<CancellationToken>()).Returns(new JobEventRange(1, 41, false));
        _published.CloseAsync(job.Id, Arg.Any<CancellationToken>())
            .Returns(Task.FromException<long>(new PublishedSeqsUnavailableException("Redis is not connected.")));
        var handler = new FailLostJobHandler(_repository, Ending(), NullLogger<FailLostJobHandler>.Instance);

        Assert.False(await handler.Handle(new FailLostJob(job.Id), CancellationToken.None));

        await _events.DidNotReceiveWithAnyArgs().AppendAsync(default!, default);
        await _repository.DidNotReceiveWithAnyArgs().SaveAsync(default!, default);
    }

    [Fact]
    public async Task FailLostJob_JobThatEndedMeanwhile_IsLeftAlone()
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], Now);
        job.Start(Now);
        job.Complete(Now);
        _repository.FindStateAsync(job.Id, Arg.Any<CancellationToken>()).Returns(job.ToMemento(includeFrames: false));
        var handler = new FailLostJobHandler(_repository, Ending(), NullLogger<FailLostJobHandler>.Instance);

        Assert.False(await handler.Handle(new FailLostJob(job.Id), CancellationToken.None));
        await _repository.DidNotReceiveWithAnyArgs().SaveAsync(default!, default);
        await _events.DidNotReceiveWithAnyArgs().AppendAsync(default!, default);
    }

    private JobEnding Ending()
    {
        var lost = new LostJobStreams(
            _events, _published, _remote, new RealtimeMessages(_clock, NullLogger<RealtimeMessages>.Instance),
            _streams, new LoggedFrames(_repository, _events, NullLogger<LoggedFrames>.Instance), NullLogger<LostJobStreams>.Instance);
        return TestEndings.Create(new LiveJobs(), _repository, _streams, lost, _clock);
    }

    private Job RunningJob()
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], Now);
        job.Start(Now);
        _repository.FindStateAsync(job.Id, Arg.Any<CancellationToken>()).Returns(job.ToMemento(includeFrames: false));
        return job;
    }

    private List<JobEvent> RecordAppends()
    {
        var logged = new List<JobEvent>();
        _events.When(e => e.AppendAsync(Arg.Any<IReadOnlyList<JobEvent>>(), Arg.Any<CancellationToken>()))
            .Do(c => logged.AddRange(c.Arg<IReadOnlyList<JobEvent>>()));
        return logged;
    }

    private Task<JobMemento> Create(string client) =>
        new CreateJobHandler(
                _repository, _queue, Substitute.For<IDeviceProbe>(), _admission, Options.Create(_options), _clock, NullLogger<CreateJobHandler>.Instance)
            .Handle(new CreateJob("synthetic:pitch", "cpu", ["frame_quality"], client), CancellationToken.None);
}
