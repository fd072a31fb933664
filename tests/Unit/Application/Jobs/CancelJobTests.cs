using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Application.Jobs.CancelJob;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Common;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Application.Jobs.Ending;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class CancelJobTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly LiveJobs _live = new();
    private readonly IJobRepository _repository = Substitute.For<IJobRepository>();

    [Fact]
    public async Task Cancel_JobFinishedButNotYetStored_Is409NotACancellation()
    {
        // The window between the projection marking the job completed and its final save removing it from LiveJobs.
        var job = NewJob();
        using var running = _live.Begin(job);
        running.Apply(j =>
        {
            j.Start(_clock.GetUtcNow());
            j.Complete(_clock.GetUtcNow());
        });

        await Assert.ThrowsAsync<DomainRuleException>(() => Handler().Handle(new CancelJob(job.Id), CancellationToken.None));
        Assert.False(_live.IsCancelRequested(job.Id));
    }

    [Fact]
    public async Task Cancel_RunningJob_RequestsCancellationAndAnswersWithItsState()
    {
        var job = NewJob();
        using var running = _live.Begin(job);
        running.Apply(j => j.Start(_clock.GetUtcNow()));

        var answer = await Handler().Handle(new CancelJob(job.Id), CancellationToken.None);

        Assert.Equal(JobStatus.Running, answer.Status);
        Assert.True(running.IsCancellationRequested);
    }

    private Job NewJob() => Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], _clock.GetUtcNow());

    private CancelJobHandler Handler()
    {
        var options = Options.Create(new RealtimeOptions());
        var log = Substitute.For<IJobEventLog>();
        var streams = new JobStreams(
            new MessageSerializer(), new JobEventWriter(log, options, _clock, NullLogger<JobEventWriter>.Instance),
            Substitute.For<IRealtimeBroadcaster>(), new NoSeqReservations(), options, NullLogger<JobStreams>.Instance);
        var remote = new RemoteJobStreams(streams, log, Substitute.For<IRealtimeBroadcaster>(), options, _clock, NullLogger<RemoteJobStreams>.Instance);
        var lost = new LostJobStreams(
            log, new NoPublishedSeqs(), remote, new RealtimeMessages(_clock, NullLogger<RealtimeMessages>.Instance), streams,
            new LoggedFrames(_repository, log, NullLogger<LoggedFrames>.Instance), NullLogger<LostJobStreams>.Instance);
        return new CancelJobHandler(_live, _repository, TestEndings.Create(_live, _repository, streams, lost, _clock), NullLogger<CancelJobHandler>.Instance);
    }
}
