using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.GetJob;
using CleanRealtime.Application.Jobs.GetJobFrames;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class GetJobTests
{
    private readonly LiveJobs _live = new();
    private readonly IJobRepository _repository = Substitute.For<IJobRepository>();

    [Fact]
    public async Task GetJob_RunningJob_ReturnsItsStateWithoutCopyingFrames()
    {
        var job = RunningJob(frames: 1);
        using var running = _live.Begin(job);

        var state = await new GetJobHandler(_live, _repository).Handle(new GetJob(job.Id), CancellationToken.None);

        Assert.Empty(state.Frames);
        Assert.Equal((JobStatus.Running, 0), (state.Status, state.Progress));
        await _repository.DidNotReceiveWithAnyArgs().FindStateAsync(default, default);
    }

    [Fact]
    public async Task GetJob_StoredJob_ReadsTheStateOnly()
    {
        var job = RunningJob(frames: 1);
        _repository.FindStateAsync(job.Id, Arg.Any<CancellationToken>()).Returns(job.ToMemento(includeFrames: false));

        var state = await new GetJobHandler(_live, _repository).Handle(new GetJob(job.Id), CancellationToken.None);

        Assert.Equal(job.Id, state.Id);
        Assert.Empty(state.Frames);
        await _repository.DidNotReceive().FindAsync(Arg.Any<Guid>(), Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task GetJob_UnknownJob_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<NotFoundException>(
            () => new GetJobHandler(_live, _repository).Handle(new GetJob(Guid.NewGuid()), CancellationToken.None));
    }

    [Theory]
    [InlineData(0, 2, new[] { 1, 2 }, 5)]
    [InlineData(2, 2, new[] { 3, 4 }, 5)]
    [InlineData(4, 2, new[] { 5 }, 5)]
    [InlineData(7, 2, new int[0], 5)]
    public async Task GetJobFrames_RunningJob_PagesItsLiveFramesInOrder(int offset, int limit, int[] indexes, int total)
    {
        var job = RunningJob(frames: 5);
        using var running = _live.Begin(job);

        var page = await new GetJobFramesHandler(_live, _repository).Handle(new GetJobFrames(job.Id, offset, limit), CancellationToken.None);

        Assert.Equal(indexes, page.Items.Select(f => f.Index));
        Assert.Equal(total, page.Total);
        await _repository.DidNotReceiveWithAnyArgs().ReadFramesAsync(default, default, default, default);
    }

    [Fact]
    public async Task GetJobFrames_StoredJob_ReadsOnePageFromTheStoreWithTheDefaultLimit()
    {
        var id = Guid.NewGuid();
        _repository.ReadFramesAsync(id, 10, GetJobFrames.DefaultLimit, Arg.Any<CancellationToken>()).Returns(new FramePage([], 10));

        var page = await new GetJobFramesHandler(_live, _repository).Handle(new GetJobFrames(id, 10), CancellationToken.None);

        Assert.Equal(10, page.Total);
        Assert.Empty(page.Items);
    }

    [Fact]
    public async Task GetJobFrames_UnknownJob_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<NotFoundException>(
            () => new GetJobFramesHandler(_live, _repository).Handle(new GetJobFrames(Guid.NewGuid()), CancellationToken.None));
    }

    [Theory]
    [InlineData(-1, null, "offset")]
    [InlineData(0, 0, "limit")]
    [InlineData(0, 1001, "limit")]
    public void GetJobFramesValidator_OutOfRange_NamesTheParameter(int offset, int? limit, string field)
    {
        var result = new GetJobFramesValidator().Validate(new GetJobFrames(Guid.NewGuid(), offset, limit));

        Assert.Equal(field, Assert.Single(result.Errors).PropertyName);
    }

    private static Job RunningJob(int frames)
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], DateTimeOffset.UnixEpoch);
        job.Start(DateTimeOffset.UnixEpoch);
        for (var i = 1; i <= frames; i++)
        {
            job.RecordFrameResult(FrameResult.IdFor(i), i, 33.3 * i, "frame_quality", JsonDocument.Parse("{}").RootElement.Clone(), 0.5);
        }

        return job;
    }
}
