using System.Diagnostics;
using CleanRealtime.Infrastructure.Media;
using OpenCvSharp;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class SyntheticSourceTests
{
    [Theory]
    [InlineData("synthetic:pitch?frames=10\0", 25, "U+0000")]
    [InlineData("synthetic:pitch?seed=\0\0\07", 21, "U+0000")]
    [InlineData("synthetic:pitch\0?frames=10", 15, "U+0000")]
    [InlineData("synthetic:pitch?frames=10&\0", 26, "U+0000")]
    [InlineData("synthetic:pitch?frames=10\t", 25, "U+0009")]
    [InlineData("synthetic:pitch?frames=10\u007F", 25, "U+007F")]
    [InlineData("synthetic:pitch?frames=10\u0085", 25, "U+0085")]
    public void TryParse_ControlCharacter_FailsNamingItAndWhere(string source, int position, string codePoint)
    {
        Assert.False(SyntheticSceneSettings.TryParse(source, out var settings, out var error));

        Assert.Null(settings);
        Assert.Equal($"synthetic source must not contain control characters (found {codePoint} at position {position})", error);
    }

    [Theory]
    [InlineData("synthetic:pitch?frames=10%00", 25)]
    [InlineData("synthetic:pitch%3Fframes=10", 15)]
    public void TryParse_PercentEscape_FailsSayingParametersArePlainText(string source, int position)
    {
        Assert.False(SyntheticSceneSettings.TryParse(source, out _, out var error));

        Assert.Equal($"synthetic source must not contain '%' (at position {position}): parameters are plain text, not percent-encoded", error);
    }

    [Fact]
    public void RenderFrame_SameSeed_ProducesIdenticalPixels()
    {
        using var first = new SyntheticSource(SyntheticSceneSettings.Default with { Seed = 7 });
        using var second = new SyntheticSource(SyntheticSceneSettings.Default with { Seed = 7 });

        foreach (var index in new[] { 1, 17, 120 })
        {
            using var a = first.RenderFrame(index);
            using var b = second.RenderFrame(index);
            Assert.Equal(0, Cv2.Norm(a, b, NormTypes.L1));
        }
    }

    [Fact]
    public void RenderFrame_DifferentSeed_ProducesDifferentPixels()
    {
        using var first = new SyntheticSource(SyntheticSceneSettings.Default with { Seed = 1 });
        using var second = new SyntheticSource(SyntheticSceneSettings.Default with { Seed = 2 });
        using var a = first.RenderFrame(5);
        using var b = second.RenderFrame(5);

        Assert.True(Cv2.Norm(a, b, NormTypes.L1) > 0);
    }

    [Fact]
    public void RenderFrame_ConsecutiveFrames_Differ()
    {
        using var source = new SyntheticSource(SyntheticSceneSettings.Default);
        using var a = source.RenderFrame(1);
        using var b = source.RenderFrame(2);

        Assert.True(Cv2.Norm(a, b, NormTypes.L1) > 0);
    }

    [Fact]
    public async Task ReadFramesAsync_GivenFramesWidthHeight_YieldsExactlyThoseFrames()
    {
        using var source = new SyntheticSource(SyntheticSceneSettings.Default with { Frames = 3, Width = 320, Height = 200 });

        var frames = await TestMedia.ReadAllAsync(source);

        Assert.Equal(3, source.FrameCount);
        Assert.Equal([1, 2, 3], frames.Select(f => f.Index));
        Assert.Equal([33.3, 66.7, 100.0], frames.Select(f => f.TimestampMs));
        Assert.All(frames, f =>
        {
            Assert.Equal(320, f.Image.Width);
            Assert.Equal(200, f.Image.Height);
            Assert.Equal(MatType.CV_8UC3, f.Image.Type());
        });
        TestMedia.DisposeAll(frames);
    }

    [Fact]
    public async Task ReadFramesAsync_WithFps_StampsFramesAtThatRate()
    {
        using var source = new SyntheticSource(SyntheticSceneSettings.Default with { Frames = 2, Fps = 50 });

        var frames = await TestMedia.ReadAllAsync(source);

        Assert.Equal(50, source.Fps);
        Assert.Equal([20.0, 40.0], frames.Select(f => f.TimestampMs));
        TestMedia.DisposeAll(frames);
    }

    [Fact]
    public async Task ReadFramesAsync_At50Fps_PacesFramesLikeALiveCamera()
    {
        using var source = new SyntheticSource(SyntheticSceneSettings.Default with { Frames = 5, Fps = 50, Width = 160, Height = 90 });
        var clock = Stopwatch.StartNew();

        var frames = await TestMedia.ReadAllAsync(source);

        clock.Stop();
        Assert.Equal(5, frames.Count);
        Assert.True(clock.ElapsedMilliseconds >= 75, $"5 frames at 50 fps took only {clock.ElapsedMilliseconds} ms");
        TestMedia.DisposeAll(frames);
    }

    [Fact]
    public async Task ReadFramesAsync_Cancelled_StopsWithoutWaitingForTheNextFrame()
    {
        using var source = new SyntheticSource(SyntheticSceneSettings.Default with { Frames = 100, Fps = 1, Width = 160, Height = 90 });
        using var cancellation = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var frame in source.ReadFramesAsync(cancellation.Token))
            {
                frame.Dispose();
                cancellation.CancelAfter(TimeSpan.FromMilliseconds(20));
            }
        });

        Assert.True(clock.ElapsedMilliseconds < 900, $"cancellation took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task ReadFramesAsync_SecondRead_Throws()
    {
        using var source = new SyntheticSource(SyntheticSceneSettings.Default with { Frames = 1 });
        TestMedia.DisposeAll(await TestMedia.ReadAllAsync(source));

        await Assert.ThrowsAsync<InvalidOperationException>(() => TestMedia.ReadAllAsync(source));
    }

    [Fact]
    public void BallCenterAt_EveryFrame_IsInsideTheFrameAndDrawnWhite()
    {
        using var source = new SyntheticSource(SyntheticSceneSettings.Default);

        for (var index = 1; index <= 120; index += 7)
        {
            var centre = source.BallCenterAt(index);
            Assert.InRange(centre.X, source.BallRadius, 640 - source.BallRadius);
            Assert.InRange(centre.Y, source.BallRadius, 360 - source.BallRadius);
            using var image = source.RenderFrame(index);
            var pixel = image.At<Vec3b>((int)Math.Round(centre.Y), (int)Math.Round(centre.X));
            Assert.True(pixel.Item0 > 240 && pixel.Item1 > 240 && pixel.Item2 > 240, $"frame {index}: ball centre pixel is {pixel}");
        }
    }

    [Theory]
    [InlineData(360, 9)]
    [InlineData(100, 5)]
    [InlineData(1080, 27)]
    public void BallRadius_ScalesWithHeightWithAFloorOfFive(int height, int expected)
    {
        using var source = new SyntheticSource(SyntheticSceneSettings.Default with { Height = height });

        Assert.Equal(expected, source.BallRadius);
    }
}
