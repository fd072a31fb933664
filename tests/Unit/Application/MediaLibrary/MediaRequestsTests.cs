using CleanRealtime.Application.Common;
using CleanRealtime.Application.MediaLibrary;
using CleanRealtime.Domain.Common;
using CleanRealtime.Domain.Jobs;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.MediaLibrary;

public sealed class MediaRequestsTests
{
    private static readonly MediaFile Clip = new("uploads/a.mp4", "video", 10, 3, 25, 64, 48, DateTimeOffset.UnixEpoch);

    private readonly IMediaLibrary _library = Substitute.For<IMediaLibrary>();
    private readonly IJobRepository _repository = Substitute.For<IJobRepository>();

    [Fact]
    public async Task DeleteMedia_UsedByUnfinishedJob_ThrowsConflictAndKeepsTheFile()
    {
        var job = Job.Queue(Guid.NewGuid(), "./uploads/a.mp4", Device.Cpu, Device.Cpu, ["frame_quality"], DateTimeOffset.UnixEpoch);
        _library.Find("uploads/a.mp4").Returns(Clip);
        _library.RefersTo("./uploads/a.mp4", "uploads/a.mp4").Returns(true);
        _repository.ListUnfinishedAsync(Arg.Any<CancellationToken>()).Returns([job]);

        var conflict = await Assert.ThrowsAsync<DomainRuleException>(
            () => new DeleteMediaHandler(_library, _repository).Handle(new DeleteMedia("uploads/a.mp4"), CancellationToken.None));

        Assert.Contains(job.Id.ToString(), conflict.Message, StringComparison.Ordinal);
        Assert.Contains("queued", conflict.Message, StringComparison.Ordinal);
        _library.DidNotReceive().Delete(Arg.Any<string>());
    }

    [Fact]
    public async Task DeleteMedia_Unused_Deletes()
    {
        var other = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], DateTimeOffset.UnixEpoch);
        _library.Find("uploads/a.mp4").Returns(Clip);
        _library.Delete("uploads/a.mp4").Returns(true);
        _repository.ListUnfinishedAsync(Arg.Any<CancellationToken>()).Returns([other]);

        await new DeleteMediaHandler(_library, _repository).Handle(new DeleteMedia("uploads/a.mp4"), CancellationToken.None);

        _library.Received(1).Delete("uploads/a.mp4");
    }

    [Fact]
    public async Task DeleteMedia_Missing_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<NotFoundException>(
            () => new DeleteMediaHandler(_library, _repository).Handle(new DeleteMedia("uploads/none.mp4"), CancellationToken.None));
        await _repository.DidNotReceiveWithAnyArgs().ListUnfinishedAsync(default);
    }

    [Fact]
    public async Task GetMedia_Missing_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<NotFoundException>(
            () => new GetMediaHandler(_library).Handle(new GetMedia("none.mp4"), CancellationToken.None));
    }

    [Fact]
    public void GetMediaValidator_BadName_ReportsTheLibrarysReasonUnderName()
    {
        _library.CheckName("../x.mp4").Returns("name must not contain '..' segments");

        var result = new GetMediaValidator(_library).Validate(new GetMedia("../x.mp4"));

        var error = Assert.Single(result.Errors);
        Assert.Equal(("name", "name must not contain '..' segments"), (error.PropertyName, error.ErrorMessage));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(200, true)]
    [InlineData(201, false)]
    public void ListMediaValidator_Limit_AcceptsOnly1To200(int limit, bool valid)
    {
        _library.IsValidCursor(null).Returns(true);

        Assert.Equal(valid, new ListMediaValidator(_library).Validate(new ListMedia(limit, null)).IsValid);
    }

    [Fact]
    public async Task UploadMedia_PassesTheStreamAndNameToTheLibrary()
    {
        using var content = new MemoryStream([1, 2, 3]);
        _library.AddAsync(content, "clip.mp4", Arg.Any<CancellationToken>()).Returns(Clip);

        var stored = await new UploadMediaHandler(_library, Shares(new UploadSharesOptions())).Handle(new UploadMedia(content, "clip.mp4"), CancellationToken.None);

        Assert.Same(Clip, stored);
    }

    [Fact]
    public async Task UploadMedia_LibraryFails_FreesTheClientsPlaceForItsNextUpload()
    {
        var handler = new UploadMediaHandler(_library, Shares(new UploadSharesOptions { MaxConcurrentUploadsPerClient = 1 }));
        using var content = new MemoryStream([1, 2, 3]);
        _library.AddAsync(Arg.Any<Stream>(), "bad.mp4", Arg.Any<CancellationToken>()).Returns<MediaFile>(_ => throw new UnsupportedMediaException("undecodable"));
        _library.AddAsync(Arg.Any<Stream>(), "good.mp4", Arg.Any<CancellationToken>()).Returns(Clip);

        await Assert.ThrowsAsync<UnsupportedMediaException>(() => handler.Handle(new UploadMedia(content, "bad.mp4", "ip:1"), CancellationToken.None));

        Assert.Same(Clip, await handler.Handle(new UploadMedia(content, "good.mp4", "ip:1"), CancellationToken.None));
    }

    [Fact]
    public async Task UploadMedia_BytesReadPastTheDaysShare_ThrowCapacityExceeded()
    {
        var handler = new UploadMediaHandler(_library, Shares(new UploadSharesOptions { MaxUploadBytesPerClientPerDay = 2 }));
        using var content = new MemoryStream([1, 2, 3]);
        _library.AddAsync(Arg.Any<Stream>(), "clip.mp4", Arg.Any<CancellationToken>())
            .Returns(async call =>
            {
                await call.Arg<Stream>().CopyToAsync(Stream.Null);
                return Clip;
            });

        var refused = await Assert.ThrowsAsync<CapacityExceededException>(() => handler.Handle(new UploadMedia(content, "clip.mp4", "ip:1"), CancellationToken.None));

        Assert.True(refused.RetryAfter > TimeSpan.FromHours(23));
    }

    private static UploadShares Shares(UploadSharesOptions options) =>
        new(Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<UploadShares>.Instance);
}
