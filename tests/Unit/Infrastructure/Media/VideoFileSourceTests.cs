using CleanRealtime.Application.Media;
using CleanRealtime.Plugins.Sdk;
using CleanRealtime.Infrastructure.Media;
using OpenCvSharp;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class VideoFileSourceTests : IDisposable
{
    private readonly string _folder = TestMedia.CreateTempFolder("video-file");

    public void Dispose() => TestMedia.DeleteFolder(_folder);

    [Fact]
    public async Task ReadFramesAsync_MjpgVideo_RoundTripsEveryFrameInOrder()
    {
        var path = Path.Combine(_folder, "clip.avi");
        TestMedia.WriteVideo(path, frames: 12, width: 160, height: 120, fps: 25);
        using var source = VideoFileSource.Open(path, "clip.avi");

        var frames = await TestMedia.ReadAllAsync(source);

        Assert.Equal(12, source.FrameCount);
        Assert.Equal(25, source.Fps, precision: 3);
        Assert.Equal(Enumerable.Range(1, 12), frames.Select(f => f.Index));
        Assert.Equal(40.0, frames[0].TimestampMs);
        Assert.Equal(480.0, frames[^1].TimestampMs);
        Assert.All(frames.Zip(frames.Skip(1)), pair => Assert.True(pair.Second.TimestampMs > pair.First.TimestampMs));
        Assert.All(frames, f =>
        {
            Assert.Equal(new Size(160, 120), f.Image.Size());
            Assert.Equal(MatType.CV_8UC3, f.Image.Type());
        });

        // Frame k has its white square k*8 px from the left (JPEG is lossy, so look for "bright").
        foreach (var frame in frames)
        {
            var square = frame.Image.At<Vec3b>(40 + 8, (frame.Index * 8) + 8);
            Assert.True(square.Item0 > 200, $"frame {frame.Index}: expected the white square, got {square}");
        }

        TestMedia.DisposeAll(frames);
    }

    [Fact]
    public async Task ReadFramesAsync_ImageFile_YieldsExactlyOneIdenticalFrame()
    {
        var path = Path.Combine(_folder, "still.png");
        using var written = TestMedia.WriteImage(path, width: 50, height: 40);
        using var source = VideoFileSource.Open(path, "still.png");

        var frames = await TestMedia.ReadAllAsync(source);

        Assert.Equal(1, source.FrameCount);
        var frame = Assert.Single(frames);
        Assert.Equal(1, frame.Index);
        Assert.Equal(0, Cv2.Norm(written, frame.Image, NormTypes.L1));
        TestMedia.DisposeAll(frames);
    }

    [Fact]
    public async Task ReadFramesAsync_GrayscaleImage_IsConvertedToBgr()
    {
        var path = Path.Combine(_folder, "gray.png");
        using (var gray = new Mat(30, 40, MatType.CV_8UC1, new Scalar(77)))
        {
            Assert.True(Cv2.ImWrite(path, gray));
        }

        using var source = VideoFileSource.Open(path, "gray.png");
        var frames = await TestMedia.ReadAllAsync(source);

        Assert.Equal(MatType.CV_8UC3, Assert.Single(frames).Image.Type());
        TestMedia.DisposeAll(frames);
    }

    [Theory]
    [InlineData("x.mp4")]
    [InlineData("x.avi")]
    [InlineData("x.png")]
    [InlineData("x.jpg")]
    public void Open_RandomBytes_ThrowsSourceUnreadable(string name)
    {
        var path = Path.Combine(_folder, name);
        TestMedia.WriteRandomBytes(path);

        var error = Assert.Throws<SourceUnreadableException>(() => VideoFileSource.Open(path, name));

        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_EmptyFile_ThrowsSourceUnreadable()
    {
        var path = Path.Combine(_folder, "empty.mp4");
        File.WriteAllBytes(path, []);

        Assert.Throws<SourceUnreadableException>(() => VideoFileSource.Open(path, "empty.mp4"));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.999)]
    public async Task ReadFramesAsync_TruncatedVideo_EndsWithSourceUnreadable(double keep)
    {
        var whole = Path.Combine(_folder, "whole.avi");
        var truncated = Path.Combine(_folder, "truncated.avi");
        TestMedia.WriteVideo(whole, frames: 20);
        TestMedia.WriteTruncatedCopy(whole, truncated, keep);

        var frames = new List<VideoFrame>();
        var error = await Assert.ThrowsAsync<SourceUnreadableException>(async () =>
        {
            using var source = VideoFileSource.Open(truncated, "truncated.avi");
            await foreach (var frame in source.ReadFramesAsync(CancellationToken.None))
            {
                frames.Add(frame);
            }
        });

        Assert.InRange(frames.Count, 0, 17);
        Assert.Contains("truncated.avi", error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", error.Message.Replace("truncated.avi", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain(_folder, error.Message, StringComparison.Ordinal);
        TestMedia.DisposeAll(frames);
    }

    [Fact]
    public async Task ReadFramesAsync_IndexWithZeroSizeRepeatFrames_ReadsEveryRealFrameToTheLast()
    {
        // Like tree.avi (444 index entries, 376 of them zero-size): 12 pictures, 74 entries, ending on a run of repeats.
        int[] repeats = [6, 0, 9, 3, 7, 1, 8, 6, 2, 9, 5, 6];
        var path = Path.Combine(_folder, "repeats.avi");
        var entries = TestMedia.WriteRepeatFrameVideo(path, repeats);
        using var source = VideoFileSource.Open(path, "repeats.avi");

        var frames = await TestMedia.ReadAllAsync(source);

        Assert.Equal(74, entries);
        Assert.Equal(entries, source.FrameCount);
        Assert.Equal(Enumerable.Range(1, 12), frames.Select(f => f.Index));
        foreach (var frame in frames)
        {
            var square = frame.Image.At<Vec3b>(40 + 8, (frame.Index * 8) + 8);
            Assert.True(square.Item0 > 200, $"frame {frame.Index}: expected the white square, got {square}");
        }

        // Each picture is stamped at its own place in the index (25 fps: 40 ms per entry), repeats included.
        var expected = repeats[..^1].Aggregate(new List<double> { 40.0 }, (stamps, r) =>
        {
            stamps.Add(stamps[^1] + ((r + 1) * 40.0));
            return stamps;
        });
        Assert.Equal(expected, frames.Select(f => f.TimestampMs));
        TestMedia.DisposeAll(frames);
    }

    [Fact]
    public async Task Open_TruncatedRepeatFrameVideo_ThrowsSourceUnreadable()
    {
        var whole = Path.Combine(_folder, "repeats.avi");
        var truncated = Path.Combine(_folder, "repeats-cut.avi");
        TestMedia.WriteRepeatFrameVideo(whole, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
        TestMedia.WriteTruncatedCopy(whole, truncated, 0.7);

        var error = await Assert.ThrowsAsync<SourceUnreadableException>(async () =>
        {
            using var source = VideoFileSource.Open(truncated, "repeats-cut.avi");
            TestMedia.DisposeAll(await TestMedia.ReadAllAsync(source));
        });

        Assert.Contains("'repeats-cut.avi' is truncated", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("clip.mkv", "MJPG")]
    [InlineData("clip.mp4", "mp4v")]
    public async Task ReadFramesAsync_CompleteFfmpegContainer_ReadsEveryFrame(string name, string fourcc)
    {
        var path = Path.Combine(_folder, name);
        TestMedia.WriteFfmpegVideo(path, frames: 30, fourcc);
        using var source = VideoFileSource.Open(path, name);

        var frames = await TestMedia.ReadAllAsync(source);

        Assert.Equal(30, frames.Count);
        TestMedia.DisposeAll(frames);
    }

    [Theory]
    [InlineData(".mkv", "MJPG", 0.5)]
    [InlineData(".mkv", "MJPG", 0.95)]
    [InlineData(".mp4", "mp4v", 0.5)]
    [InlineData(".mp4", "mp4v", 0.95)]
    public void Open_TruncatedFfmpegContainer_ThrowsSourceUnreadable(string extension, string fourcc, double keep)
    {
        var whole = Path.Combine(_folder, "whole" + extension);
        var truncated = Path.Combine(_folder, "cut" + extension);
        TestMedia.WriteFfmpegVideo(whole, frames: 30, fourcc);
        TestMedia.WriteTruncatedCopy(whole, truncated, keep);

        var error = Assert.Throws<SourceUnreadableException>(() => VideoFileSource.Open(truncated, "cut" + extension));

        Assert.Contains($"'cut{extension}' is truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFramesAsync_AfterDispose_Throws()
    {
        var path = Path.Combine(_folder, "clip.avi");
        TestMedia.WriteVideo(path, frames: 3);
        var source = VideoFileSource.Open(path, "clip.avi");

        source.Dispose();
        source.Dispose();

        Assert.Throws<ObjectDisposedException>(() => source.ReadFramesAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ReadFramesAsync_SecondRead_Throws()
    {
        var path = Path.Combine(_folder, "still.png");
        TestMedia.WriteImage(path).Dispose();
        using var source = VideoFileSource.Open(path, "still.png");
        TestMedia.DisposeAll(await TestMedia.ReadAllAsync(source));

        Assert.Throws<InvalidOperationException>(() => source.ReadFramesAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ReadFramesAsync_Cancelled_Throws()
    {
        var path = Path.Combine(_folder, "clip.avi");
        TestMedia.WriteVideo(path, frames: 3);
        using var source = VideoFileSource.Open(path, "clip.avi");
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var frame in source.ReadFramesAsync(cancellation.Token))
            {
                frame.Dispose();
            }
        });
    }
}
