using CleanRealtime.Application.Media;
using CleanRealtime.Infrastructure.Media;
using Microsoft.Extensions.Options;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class FrameSourceFactoryTests : IClassFixture<FrameSourceFactoryTests.MediaFolder>
{
    private readonly MediaFolder _media;
    private readonly FrameSourceFactory _factory;

    public FrameSourceFactoryTests(MediaFolder media)
    {
        _media = media;
        _factory = new FrameSourceFactory(Options.Create(new MediaOptions { Root = media.Root }));
    }

    [Theory]
    [InlineData("clip.avi")]
    [InlineData("still.png")]
    [InlineData("sub/inner.png")]
    [InlineData("./still.png")]
    [InlineData("synthetic:pitch")]
    [InlineData("synthetic:pitch?frames=120&fps=0&width=640&height=360")]
    [InlineData("synthetic:pitch?frames=1&fps=240&width=64&height=2160&seed=-5")]
    [InlineData("synthetic:pitch?frames=100000&width=3840&seed=2147483647")]
    public void Validate_AcceptableSource_ReturnsNull(string source)
    {
        Assert.Null(_factory.Validate(source));
    }

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("   ", "must not be empty")]
    [InlineData("/etc/passwd", "absolute paths are not allowed")]
    [InlineData("~/clip.avi", "absolute paths are not allowed")]
    [InlineData("../clip.avi", "'..' segments")]
    [InlineData("..", "'..' segments")]
    [InlineData("sub/../../clip.avi", "'..' segments")]
    [InlineData("sub/..", "'..' segments")]
    [InlineData("http://example.com/clip.mp4", "URLs and other schemes are not allowed")]
    [InlineData("rtsp://camera.local/stream", "URLs and other schemes are not allowed")]
    [InlineData("file:///etc/passwd", "URLs and other schemes are not allowed")]
    [InlineData("file:clip.avi", "URLs and other schemes are not allowed")]
    [InlineData("C:/media/clip.avi", "URLs and other schemes are not allowed")]
    [InlineData("sub\\..\\..\\clip.avi", "backslashes are not allowed")]
    [InlineData("clip.avi\0.png", "control characters")]
    [InlineData("missing.mp4", "source 'missing.mp4' was not found under the media root")]
    [InlineData("sub", "source 'sub' was not found under the media root")]
    [InlineData("escape.png", "source 'escape.png' was not found under the media root")]
    [InlineData(".", "source '.' was not found under the media root")]
    [InlineData("clip.avi/.", "source 'clip.avi/.' was not found under the media root")]
    public void Validate_UnacceptableFileSource_SaysWhy(string source, string expected)
    {
        var error = _factory.Validate(source);

        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("synthetic:stadium", "unknown synthetic scene 'stadium'; allowed: pitch")]
    [InlineData("synthetic:", "unknown synthetic scene ''; allowed: pitch")]
    [InlineData("synthetic:pitch?foo=1", "unknown synthetic parameter 'foo'; allowed: frames, fps, width, height, seed")]
    [InlineData("synthetic:pitch?Frames=1", "unknown synthetic parameter 'Frames'; allowed: frames, fps, width, height, seed")]
    [InlineData("synthetic:pitch?frames", "synthetic parameter 'frames' needs a value")]
    [InlineData("synthetic:pitch?frames=abc", "synthetic parameter 'frames' must be a whole number (got 'abc')")]
    [InlineData("synthetic:pitch?fps=2.5", "synthetic parameter 'fps' must be a whole number (got '2.5')")]
    [InlineData("synthetic:pitch?seed=99999999999", "synthetic parameter 'seed' must be a whole number")]
    [InlineData("synthetic:pitch?frames=", "synthetic parameter 'frames' must be a whole number (got '')")]
    [InlineData("synthetic:pitch?frames=0", "synthetic parameter 'frames' must be between 1 and 100000 (got 0)")]
    [InlineData("synthetic:pitch?frames=100001", "synthetic parameter 'frames' must be between 1 and 100000 (got 100001)")]
    [InlineData("synthetic:pitch?fps=-1", "synthetic parameter 'fps' must be between 0 and 240 (got -1)")]
    [InlineData("synthetic:pitch?fps=241", "synthetic parameter 'fps' must be between 0 and 240 (got 241)")]
    [InlineData("synthetic:pitch?width=63", "synthetic parameter 'width' must be between 64 and 3840 (got 63)")]
    [InlineData("synthetic:pitch?width=3841", "synthetic parameter 'width' must be between 64 and 3840 (got 3841)")]
    [InlineData("synthetic:pitch?height=63", "synthetic parameter 'height' must be between 64 and 2160 (got 63)")]
    [InlineData("synthetic:pitch?height=2161", "synthetic parameter 'height' must be between 64 and 2160 (got 2161)")]
    [InlineData("synthetic:pitch?frames=1&frames=2", "synthetic parameter 'frames' is given more than once")]
    [InlineData("synthetic:pitch?frames=10\0", "synthetic source must not contain control characters (found U+0000 at position 25)")]
    [InlineData("synthetic:pitch?frames=10%00", "synthetic source must not contain '%' (at position 25): parameters are plain text")]
    public void Validate_BadSyntheticSource_SaysWhy(string source, string expected)
    {
        var error = _factory.Validate(source);

        Assert.NotNull(error);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_VeryLongValue_QuotesOnlyItsStart()
    {
        var error = _factory.Validate("synthetic:pitch?frames=" + new string('x', 5000));

        Assert.NotNull(error);
        Assert.True(error.Length < 200, error);
    }

    [Fact]
    public void Constructor_RelativeRoot_ResolvesAgainstTheWorkingDirectory()
    {
        var factory = new FrameSourceFactory(Options.Create(new MediaOptions()));

        Assert.Equal(Path.GetFullPath("media"), factory.Root);
    }

    [Fact]
    public void Open_SyntheticSource_UsesItsParameters()
    {
        using var source = _factory.Open("synthetic:pitch?frames=7&fps=25&width=320&height=180&seed=3");

        var synthetic = Assert.IsType<SyntheticSource>(source);
        Assert.Equal(7, source.FrameCount);
        Assert.Equal(25, source.Fps);
        Assert.Equal(new SyntheticSceneSettings(7, 25, 320, 180, 3), synthetic.Settings);
    }

    [Fact]
    public async Task Open_VideoFile_YieldsItsFrames()
    {
        using var source = _factory.Open("clip.avi");

        var count = 0;
        await foreach (var frame in source.ReadFramesAsync(CancellationToken.None))
        {
            frame.Dispose();
            count++;
        }

        Assert.Equal(MediaFolder.ClipFrames, source.FrameCount);
        Assert.Equal(MediaFolder.ClipFrames, count);
    }

    [Fact]
    public void Open_ImageFile_HasOneFrame()
    {
        using var source = _factory.Open("sub/inner.png");

        Assert.Equal(1, source.FrameCount);
    }

    [Theory]
    [InlineData("corrupt.mp4")]
    [InlineData("missing.mp4")]
    [InlineData("../clip.avi")]
    [InlineData("synthetic:pitch?frames=0")]
    public void Open_UnreadableSource_ThrowsSourceUnreadable(string source)
    {
        var error = Assert.Throws<SourceUnreadableException>(() => _factory.Open(source));

        Assert.DoesNotContain(_media.Root, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FileLinkToOutside_SaysNotFound()
    {
        var source = _media.Link("file-link.png", Path.Combine(_media.Outside, "secret.png"));

        Assert.Equal(NotFound(source), _factory.Validate(source));
    }

    [Fact]
    public void Validate_FileThroughDirectoryLinkToOutside_SaysNotFound()
    {
        _media.Link("outdir", _media.Outside);

        Assert.Equal(NotFound("outdir/secret.png"), _factory.Validate("outdir/secret.png"));
        Assert.Throws<SourceUnreadableException>(() => _factory.Open("outdir/secret.png"));
    }

    [Fact]
    public void Validate_ChainOfLinksEndingOutside_SaysNotFound()
    {
        // chain-a -> chain-b (a relative link inside the root) -> the outside folder.
        _media.Link("chain-b", _media.Outside);
        _media.Link("chain-a", "chain-b");

        Assert.Equal(NotFound("chain-a/secret.png"), _factory.Validate("chain-a/secret.png"));
    }

    [Fact]
    public void Validate_RelativeLinkClimbingOutOfTheRoot_SaysNotFound()
    {
        // sub/up -> ../../<outside folder's name>: relative to the link's folder, it climbs out of the root.
        var source = _media.Link("sub/up", Path.Combine("..", "..", Path.GetFileName(_media.Outside)));

        Assert.Equal(NotFound("sub/up/secret.png"), _factory.Validate("sub/up/secret.png"));
        Assert.Equal(NotFound(source), _factory.Validate(source));
    }

    [Fact]
    public void Validate_RelativeLinkToSystemFolder_SaysNotFound()
    {
        var climb = string.Join('/', Enumerable.Repeat("..", _media.Root.Count(c => c == '/') + 2));
        _media.Link("etc", climb + "/etc");

        Assert.Equal(NotFound("etc/passwd"), _factory.Validate("etc/passwd"));
    }

    [Fact]
    public void Validate_OutsideExistingAndMissing_GiveTheSameAnswer()
    {
        _media.Link("outdir2", _media.Outside);

        var existing = _factory.Validate("outdir2/secret.png");
        var missing = _factory.Validate("outdir2/no-such-file.png");

        Assert.Equal(NotFound("outdir2/secret.png"), existing);
        Assert.Equal(NotFound("outdir2/no-such-file.png"), missing);
        Assert.Equal(existing!.Replace("secret", "no-such-file", StringComparison.Ordinal), missing);
        Assert.Equal(NotFound("nothing-here.png"), _factory.Validate("nothing-here.png"));
    }

    [Fact]
    public void Validate_LinkLoop_SaysNotFound()
    {
        _media.Link("loop-a", "loop-b");
        _media.Link("loop-b", "loop-a");

        Assert.Equal(NotFound("loop-a/clip.avi"), _factory.Validate("loop-a/clip.avi"));
    }

    [Fact]
    public void Validate_LinksEndingInsideTheRoot_AreAccepted()
    {
        // A relative file link, a directory link and a chain that leaves through the outside folder and comes back.
        _media.Link("alias.avi", "clip.avi");
        _media.Link("subdir", "sub");
        _media.Link("via-outside", Path.Combine(_media.Outside, "back"));
        _media.Link(Path.Combine(_media.Outside, "back"), _media.Root);

        Assert.Null(_factory.Validate("alias.avi"));
        Assert.Null(_factory.Validate("subdir/inner.png"));
        Assert.Null(_factory.Validate("via-outside/sub/inner.png"));
        using var source = _factory.Open("subdir/inner.png");
        Assert.Equal(1, source.FrameCount);
    }

    [Fact]
    public void Validate_RootThatIsItselfALink_AcceptsItsFilesAndRefusesEscapes()
    {
        var linkedRoot = Path.Combine(_media.Outside, "root-link");
        _media.Link(linkedRoot, _media.Root);
        _media.Link("outdir3", _media.Outside);
        var factory = new FrameSourceFactory(Options.Create(new MediaOptions { Root = linkedRoot }));

        Assert.Null(factory.Validate("clip.avi"));
        Assert.Null(factory.Validate("sub/inner.png"));
        Assert.Equal(NotFound("outdir3/secret.png"), factory.Validate("outdir3/secret.png"));
    }

    [Fact]
    public void Open_LinkSwappedInAfterValidate_ThrowsSourceUnreadable()
    {
        // Valid when submitted: late/secret.png is a file in a real folder inside the root.
        var folder = Path.Combine(_media.Root, "late");
        Directory.CreateDirectory(folder);
        TestMedia.WriteImage(Path.Combine(folder, "secret.png")).Dispose();
        Assert.Null(_factory.Validate("late/secret.png"));

        // Before the job opens it, the folder becomes a link to the outside folder, which holds a file of that name.
        Directory.Delete(folder, recursive: true);
        _media.Link("late", _media.Outside);

        var error = Assert.Throws<SourceUnreadableException>(() => _factory.Open("late/secret.png"));
        Assert.Equal(NotFound("late/secret.png"), error.Message);
    }

    private static string NotFound(string source) => $"source '{source}' was not found under the media root";

    public sealed class MediaFolder : IDisposable
    {
        public const int ClipFrames = 6;

        public MediaFolder()
        {
            Root = TestMedia.CreateTempFolder("media-root");
            Outside = TestMedia.CreateTempFolder("media-outside");
            Directory.CreateDirectory(Path.Combine(Root, "sub"));

            TestMedia.WriteVideo(Path.Combine(Root, "clip.avi"), ClipFrames);
            TestMedia.WriteImage(Path.Combine(Root, "still.png")).Dispose();
            TestMedia.WriteImage(Path.Combine(Root, "sub", "inner.png")).Dispose();
            TestMedia.WriteRandomBytes(Path.Combine(Root, "corrupt.mp4"));
            TestMedia.WriteImage(Path.Combine(Outside, "secret.png")).Dispose();
            File.CreateSymbolicLink(Path.Combine(Root, "escape.png"), Path.Combine(Outside, "secret.png"));
        }

        public string Root { get; }

        public string Outside { get; }

        /// <summary>Creates a symbolic link at <paramref name="name"/> (relative to the root, or absolute) and returns that name.</summary>
        public string Link(string name, string target)
        {
            File.CreateSymbolicLink(Path.Combine(Root, name), target);
            return name;
        }

        public void Dispose()
        {
            TestMedia.DeleteFolder(Root);
            TestMedia.DeleteFolder(Outside);
        }
    }
}
