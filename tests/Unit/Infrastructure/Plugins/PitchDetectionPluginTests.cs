using CleanRealtime.Infrastructure.Media;
using OpenCvSharp;

using CleanRealtime.Plugins.BuiltIn;
using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.UnitTests.Infrastructure.Plugins;

public sealed class PitchDetectionPluginTests
{
    private readonly PitchDetectionPlugin _plugin = new();

    [Fact]
    public void Analyze_AllGreenFrame_CoversTheFrameWithFourCorners()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, context) = PluginTestFrames.Analyze<PitchDetectionResult>(session, PluginTestFrames.Uniform(PluginTestFrames.Grass));

        Assert.Equal(1.0, result.Coverage);
        Assert.Equal(
            [new PitchCorner(0, 0), new PitchCorner(639, 0), new PitchCorner(639, 359), new PitchCorner(0, 359)],
            result.Corners);
        Assert.Empty(context.Warnings);
    }

    [Fact]
    public void Analyze_NoGreen_WarnsThatCornersWereNotDetected()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, context) = PluginTestFrames.Analyze<PitchDetectionResult>(session, PluginTestFrames.Uniform(new Scalar(90, 90, 90)));

        Assert.Equal(0.0, result.Coverage);
        Assert.Empty(result.Corners);
        var warning = Assert.Single(context.Warnings);
        Assert.Equal("pitch corners not detected", warning.Message);
        Assert.Equal(WarningSeverity.Low, warning.Severity);
    }

    [Fact]
    public void Analyze_GreenTrapezoid_FindsItsCorners()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var image = PluginTestFrames.Uniform(new Scalar(90, 90, 90));
        Point[] drawn = [new(200, 60), new(440, 60), new(600, 330), new(40, 330)];
        Cv2.FillConvexPoly(image, drawn, PluginTestFrames.Grass);

        var (result, context) = PluginTestFrames.Analyze<PitchDetectionResult>(session, image);

        Assert.Equal(4, result.Corners.Count);
        for (var i = 0; i < 4; i++)
        {
            Assert.InRange(result.Corners[i].X, drawn[i].X - 4, drawn[i].X + 4);
            Assert.InRange(result.Corners[i].Y, drawn[i].Y - 4, drawn[i].Y + 4);
        }

        var trapezoidShare = (240 + 560) / 2.0 * 270 / (640 * 360);
        Assert.InRange(result.Coverage, trapezoidShare - 0.02, trapezoidShare + 0.02);
        Assert.Empty(context.Warnings);
    }

    [Fact]
    public void Analyze_SmallGreenPatch_IsNotTakenForThePitch()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var image = PluginTestFrames.Uniform(new Scalar(90, 90, 90));
        Cv2.Rectangle(image, new Rect(10, 10, 40, 40), PluginTestFrames.Grass, -1);

        var (result, context) = PluginTestFrames.Analyze<PitchDetectionResult>(session, image);

        Assert.Empty(result.Corners);
        Assert.InRange(result.Coverage, 0.005, 0.01);
        Assert.Single(context.Warnings);
    }

    [Fact]
    public void Analyze_SyntheticScene_IsMostlyPitch()
    {
        using var scene = new SyntheticSource(SyntheticSceneSettings.Default);
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, context) = PluginTestFrames.Analyze<PitchDetectionResult>(session, scene.RenderFrame(1));

        Assert.InRange(result.Coverage, 0.85, 1.0);
        Assert.Equal(4, result.Corners.Count);
        Assert.Empty(context.Warnings);
    }
}
