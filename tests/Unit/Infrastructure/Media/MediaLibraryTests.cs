using CleanRealtime.Application.Common;
using CleanRealtime.Infrastructure.Media;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class MediaLibraryTests : IDisposable
{
    private readonly string _root = TestMedia.CreateTempFolder("library");
    private readonly MediaLibrary _library;
    private readonly FrameSourceFactory _sources;

    public MediaLibraryTests()
    {
        var options = Options.Create(new MediaOptions { Root = _root, MaxUploadBytes = 64 * 1024 });
        _sources = new FrameSourceFactory(options);
        _library = new MediaLibrary(_sources, options, NullLogger<MediaLibrary>.Instance);
    }

    private string Uploads => Path.Combine(_root, "uploads");

    public void Dispose() => TestMedia.DeleteFolder(_root);

    [Fact]
    public async Task AddAsync_StreamFailsMidCopy_LeavesNothing()
    {
        await using var content = new FailingStream(bytesBeforeFailure: 20_000);

        await Assert.ThrowsAsync<IOException>(() => _library.AddAsync(content, "clip.avi", CancellationToken.None));

        Assert.Empty(Directory.GetFiles(Uploads, "*", new EnumerationOptions { AttributesToSkip = 0 }));
    }

    [Fact]
    public async Task AddAsync_CancelledMidCopy_LeavesNothing()
    {
        using var cancel = new CancellationTokenSource();
        await using var content = new FailingStream(bytesBeforeFailure: 20_000, onFailure: cancel.Cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _library.AddAsync(content, "clip.avi", cancel.Token));

        Assert.Empty(Directory.GetFiles(Uploads, "*", new EnumerationOptions { AttributesToSkip = 0 }));
    }

    [Fact]
    public async Task AddAsync_OverTheLimit_ThrowsTooLargeAndLeavesNothing()
    {
        await using var content = new MemoryStream(new byte[(64 * 1024) + 1]);

        await Assert.ThrowsAsync<PayloadTooLargeException>(() => _library.AddAsync(content, "clip.avi", CancellationToken.None));

        Assert.Empty(Directory.GetFiles(Uploads, "*", new EnumerationOptions { AttributesToSkip = 0 }));
    }

    [Fact]
    public async Task AddAsync_ReachingTheFreeSpaceFloorWhileReceived_ThrowsInsufficientStorageAndLeavesNothing()
    {
        // The volume has 30,000 bytes above the floor, less whatever the upload has written so far.
        const long Floor = 1_000_000;
        var disk = new DiskSpace(folder => Floor + 30_000 - new DirectoryInfo(folder).EnumerateFiles(".part-*", new EnumerationOptions { AttributesToSkip = 0 }).Sum(f => f.Length));
        var options = Options.Create(new MediaOptions { Root = _root, MaxUploadBytes = 64 * 1024, MinFreeBytes = Floor });
        var library = new MediaLibrary(_sources, options, NullLogger<MediaLibrary>.Instance, disk);
        await using var content = new FailingStream(bytesBeforeFailure: 60_000);

        var refused = await Assert.ThrowsAsync<InsufficientStorageException>(() => library.AddAsync(content, "clip.avi", CancellationToken.None));

        Assert.Contains("Media:MinFreeBytes", refused.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Uploads, "*", new EnumerationOptions { AttributesToSkip = 0 }));
    }

    [Fact]
    public async Task AddAsync_ImageWithUpperCaseExtension_StoredUnderALowerCaseUuidName()
    {
        var source = Path.Combine(_root, "source.png");
        TestMedia.WriteImage(source, 30, 20).Dispose();
        await using var content = File.OpenRead(source);

        var stored = await _library.AddAsync(content, "Holiday Photo.PNG", CancellationToken.None);

        Assert.Matches("^uploads/[0-9a-f]{32}\\.png$", stored.Name);
        Assert.Equal(("image", 30, 20, 1), (stored.Kind, stored.Width, stored.Height, stored.Frames));
        Assert.True(File.Exists(Path.Combine(_root, stored.Name)));
    }

    [Fact]
    public void RefersTo_AliasOrLinkOfTheSameFile_IsTrue()
    {
        var clip = Path.Combine(_root, "clip.avi");
        TestMedia.WriteVideo(clip, frames: 2);
        File.CreateSymbolicLink(Path.Combine(_root, "alias.avi"), clip);

        Assert.True(_library.RefersTo("./clip.avi", "clip.avi"));
        Assert.True(_library.RefersTo("alias.avi", "clip.avi"));
        Assert.False(_library.RefersTo("synthetic:pitch", "clip.avi"));
        Assert.False(_library.RefersTo("../clip.avi", "clip.avi"));
    }

    [Fact]
    public void List_UndecodableFile_IsListedWithoutPictureFields()
    {
        TestMedia.WriteRandomBytes(Path.Combine(_root, "broken.mp4"));

        var page = _library.List(10, null);

        var broken = Assert.Single(page.Items);
        Assert.Equal(("broken.mp4", "video", (int?)null, (int?)null), (broken.Name, broken.Kind, broken.Width, broken.Frames));
    }

    [Theory]
    [InlineData("not base64 !")]
    [InlineData("Li4vZXRjL3Bhc3N3ZA")]
    [InlineData("")]
    public void IsValidCursor_ForeignCursor_IsFalse(string cursor)
    {
        Assert.False(_library.IsValidCursor(cursor));
    }

    /// <summary>Yields zeros, then fails as a dropped connection would (or runs <c>onFailure</c> and is cancelled).</summary>
    private sealed class FailingStream(int bytesBeforeFailure, Action? onFailure = null) : Stream
    {
        private int _left = bytesBeforeFailure;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_left <= 0)
            {
                if (onFailure is null)
                {
                    throw new IOException("The client reset the connection.");
                }

                onFailure();
                cancellationToken.ThrowIfCancellationRequested();
            }

            var n = Math.Min(buffer.Length, Math.Min(_left, 4096));
            buffer.Span[..n].Clear();
            _left -= n;
            return ValueTask.FromResult(n);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
