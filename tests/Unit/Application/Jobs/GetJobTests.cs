using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.GetJob;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class GetJobTests
{
    private readonly LiveJobs _live = new();
    private readonly IJobRepository _repository = Substitute.For<IJobRepository>();

    [Fact]
    public async Task WithoutFrames_RunningJob_ReturnsItsStateWithoutCopyingFrames()
    {
        var job = RunningJobWithOneFrame();
        using var running = _live.Begin(job);

        var state = await new GetJobHandler(_live, _repository).Handle(new GetJob(job.Id, WithFrames: false), CancellationToken.None);
        var full = await new GetJobHandler(_live, _repository).Handle(new GetJob(job.Id), CancellationToken.None);

        Assert.Empty(state.Frames);
        Assert.Equal((JobStatus.Running, 0), (state.Status, state.Progress));
        Assert.Single(full.Frames);
    }

    [Fact]
    public async Task WithoutFrames_StoredJob_ReadsTheStateOnly()
    {
        var job = RunningJobWithOneFrame();
        _repository.FindStateAsync(job.Id, Arg.Any<CancellationToken>()).Returns(job.ToMemento(includeFrames: false));

        var state = await new GetJobHandler(_live, _repository).Handle(new GetJob(job.Id, WithFrames: false), CancellationToken.None);

        Assert.Equal(job.Id, state.Id);
        Assert.Empty(state.Frames);
        await _repository.DidNotReceive().FindAsync(Arg.Any<Guid>(), Arg.Any<CancellationToken>());
    }

    private static Job RunningJobWithOneFrame()
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], DateTimeOffset.UnixEpoch);
        job.Start(DateTimeOffset.UnixEpoch);
        job.RecordFrameResult("frame-000001", 1, 33.3, "frame_quality", JsonDocument.Parse("{}").RootElement.Clone(), 0.5);
        return job;
    }
}
