using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.GetFramePicture;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Media;
using CleanRealtime.Domain.Jobs;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class GetFramePictureTests
{
    private static readonly byte[] Jpeg = [0xFF, 0xD8, 0xFF];

    private readonly LiveJobs _live = new();
    private readonly IJobRepository _repository = Substitute.For<IJobRepository>();
    private readonly IFramePictureRenderer _renderer = Substitute.For<IFramePictureRenderer>();

    [Fact]
    public async Task GetFramePicture_RunningJobWithOverlay_RendersThatFrameWithItsResults()
    {
        var job = JobWithFrames(3);
        using var running = _live.Begin(job);
        _renderer.RenderJpeg("synthetic:pitch", 2, Arg.Any<IReadOnlyDictionary<string, JsonElement>?>(), 320).Returns(Jpeg);

        var picture = await Handler().Handle(new GetFramePicture(job.Id, "frame-000002", Overlay: true, Width: 320), CancellationToken.None);

        Assert.Same(Jpeg, picture);
        _renderer.Received(1).RenderJpeg("synthetic:pitch", 2, Arg.Is<IReadOnlyDictionary<string, JsonElement>?>(r => r != null && r.ContainsKey("frame_quality")), 320);
    }

    [Fact]
    public async Task GetFramePicture_StoredJobWithoutOverlay_PassesNoResults()
    {
        var job = JobWithFrames(2);
        _repository.FindStateAsync(job.Id, Arg.Any<CancellationToken>()).Returns(job.ToMemento(includeFrames: false));
        _repository.ReadFramesAsync(job.Id, 0, 1, Arg.Any<CancellationToken>()).Returns(new FramePage([job.Frames[0]], 2));
        _renderer.RenderJpeg("synthetic:pitch", 1, null, null).Returns(Jpeg);

        var picture = await Handler().Handle(new GetFramePicture(job.Id, "frame-000001", Overlay: false), CancellationToken.None);

        Assert.Same(Jpeg, picture);
    }

    [Theory]
    [InlineData("frame-000009")]
    [InlineData("frame-000000")]
    [InlineData("frame-1")]
    [InlineData("frame-+00001")]
    [InlineData("image-000001")]
    public async Task GetFramePicture_FrameTheJobDoesNotHave_ThrowsNotFound(string frameId)
    {
        var job = JobWithFrames(2);
        using var running = _live.Begin(job);

        await Assert.ThrowsAsync<NotFoundException>(() => Handler().Handle(new GetFramePicture(job.Id, frameId), CancellationToken.None));
        _renderer.DidNotReceiveWithAnyArgs().RenderJpeg(default!, default, default, default);
    }

    [Fact]
    public async Task GetFramePicture_UnknownJob_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<NotFoundException>(
            () => Handler().Handle(new GetFramePicture(Guid.NewGuid(), "frame-000001"), CancellationToken.None));
    }

    [Theory]
    [InlineData(15, false)]
    [InlineData(16, true)]
    [InlineData(3840, true)]
    [InlineData(3841, false)]
    public void GetFramePictureValidator_Width_AcceptsOnly16To3840(int width, bool valid)
    {
        var result = new GetFramePictureValidator().Validate(new GetFramePicture(Guid.NewGuid(), "frame-000001", Width: width));

        Assert.Equal(valid, result.IsValid);
        Assert.All(result.Errors, e => Assert.Equal("width", e.PropertyName));
    }

    private GetFramePictureHandler Handler() => new(_live, _repository, _renderer);

    private static Job JobWithFrames(int frames)
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], DateTimeOffset.UnixEpoch);
        job.Start(DateTimeOffset.UnixEpoch);
        for (var i = 1; i <= frames; i++)
        {
            job.RecordFrameResult(FrameResult.IdFor(i), i, 33.3 * i, "frame_quality", JsonDocument.Parse("{\"sharpness\":1}").RootElement.Clone(), 0.5);
        }

        return job;
    }
}
