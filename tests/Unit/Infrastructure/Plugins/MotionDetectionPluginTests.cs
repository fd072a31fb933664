using OpenCvSharp;

using CleanRealtime.Plugins.BuiltIn;

namespace CleanRealtime.UnitTests.Infrastructure.Plugins;

public sealed class MotionDetectionPluginTests
{
    private readonly MotionDetectionPlugin _plugin = new();

    [Fact]
    public void Analyze_FirstFrame_ReportsNoMotionWhileTheModelStarts()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, _) = PluginTestFrames.Analyze<MotionDetectionResult>(session, WithSquare(100));

        Assert.Equal(0, result.MotionRatio);
        Assert.Empty(result.Regions);
    }

    [Fact]
    public void Analyze_IdenticalFrames_ReportsNoMotion()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        MotionDetectionResult result = null!;
        for (var index = 1; index <= 3; index++)
        {
            (result, _) = PluginTestFrames.Analyze<MotionDetectionResult>(session, WithSquare(100), index);
        }

        Assert.True(result.MotionRatio < 0.001, $"motion ratio {result.MotionRatio}");
        Assert.Empty(result.Regions);
    }

    [Fact]
    public void Analyze_MovedObject_ReportsMotionWhereItMoved()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        PluginTestFrames.Analyze<MotionDetectionResult>(session, WithSquare(100), 1);

        var (result, _) = PluginTestFrames.Analyze<MotionDetectionResult>(session, WithSquare(400), 2);

        // The square (40x40) left x=100 and arrived at x=400: both places changed.
        Assert.InRange(result.MotionRatio, 0.01, 0.05);
        Assert.Contains(result.Regions, r => Covers(r, 420, 170));
        Assert.Contains(result.Regions, r => Covers(r, 120, 170));
        Assert.All(result.Regions, r => Assert.True(r.Area > 0));
    }

    [Fact]
    public void Analyze_WideFrame_ReportsRegionsInTheFramesOwnPixels()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        PluginTestFrames.Analyze<MotionDetectionResult>(session, WithSquare(200, 1280, 720), 1);

        var (result, _) = PluginTestFrames.Analyze<MotionDetectionResult>(session, WithSquare(900, 1280, 720), 2);

        Assert.Contains(result.Regions, r => Covers(r, 920, 170) && r.Width is > 30 and < 80);
    }

    private static Mat WithSquare(int x, int width = 640, int height = 360)
    {
        var image = PluginTestFrames.Uniform(PluginTestFrames.Grass, width, height);
        Cv2.Rectangle(image, new Rect(x, 150, 40, 40), new Scalar(30, 30, 160), -1);
        return image;
    }

    private static bool Covers(MotionRegion region, int x, int y) =>
        x >= region.X && x < region.X + region.Width && y >= region.Y && y < region.Y + region.Height;
}
