using CleanRealtime.Infrastructure.Media;
using OpenCvSharp;

using CleanRealtime.Plugins.BuiltIn;
using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.UnitTests.Infrastructure.Plugins;

public sealed class FrameQualityPluginTests
{
    private readonly FrameQualityPlugin _plugin = new();

    [Fact]
    public void Analyze_SharpWellExposedFrame_RaisesNoWarnings()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, context) = PluginTestFrames.Analyze<FrameQualityResult>(session, SceneFrame());

        Assert.True(result.Sharpness > FrameQualityPlugin.BlurThreshold, $"sharpness {result.Sharpness}");
        Assert.InRange(result.MeanLuminance, 60, 200);
        Assert.False(result.Blurry);
        Assert.False(result.Underexposed);
        Assert.False(result.Overexposed);
        Assert.Empty(context.Warnings);
    }

    [Fact]
    public void Analyze_BlurredFrame_IsFlaggedBlurry()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var image = SceneFrame();
        Cv2.GaussianBlur(image, image, new Size(0, 0), 4);

        var (result, context) = PluginTestFrames.Analyze<FrameQualityResult>(session, image);

        Assert.True(result.Blurry);
        Assert.True(result.Sharpness < FrameQualityPlugin.BlurThreshold);
        var warning = Assert.Single(context.Warnings);
        Assert.Equal(FormattableString.Invariant($"blurry frame (sharpness {result.Sharpness:0.0})"), warning.Message);
        Assert.Equal(WarningSeverity.Medium, warning.Severity);
    }

    [Fact]
    public void Analyze_DarkFrame_IsFlaggedUnderexposed()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var image = SceneFrame();
        image.ConvertTo(image, MatType.CV_8UC3, 0.2);

        var (result, context) = PluginTestFrames.Analyze<FrameQualityResult>(session, image);

        Assert.True(result.Underexposed);
        Assert.False(result.Overexposed);
        Assert.True(result.MeanLuminance < FrameQualityPlugin.UnderexposedLuminance);
        Assert.Contains(context.Warnings, w => w.Message == FormattableString.Invariant($"underexposed frame (mean luminance {result.MeanLuminance:0.0})"));
    }

    [Fact]
    public void Analyze_BrightFrame_IsFlaggedOverexposedWithClippedWhites()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var image = SceneFrame();
        image.ConvertTo(image, MatType.CV_8UC3, 2.0, 150);

        var (result, context) = PluginTestFrames.Analyze<FrameQualityResult>(session, image);

        Assert.True(result.Overexposed);
        Assert.False(result.Underexposed);
        Assert.True(result.ClippedBright > 0.5, $"clipped bright {result.ClippedBright}");
        Assert.Contains(context.Warnings, w => w.Message.StartsWith("overexposed frame (mean luminance ", StringComparison.Ordinal));
    }

    [Fact]
    public void Analyze_BlackFrame_CountsEveryPixelAsClippedDark()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, context) = PluginTestFrames.Analyze<FrameQualityResult>(session, PluginTestFrames.Uniform(Scalar.Black));

        Assert.Equal(1.0, result.ClippedDark);
        Assert.Equal(0.0, result.ClippedBright);
        Assert.Equal(0.0, result.MeanLuminance);
        Assert.True(result.Underexposed);
        Assert.False(result.Blurry);
        Assert.Single(context.Warnings);
    }

    private static Mat SceneFrame()
    {
        using var scene = new SyntheticSource(SyntheticSceneSettings.Default);
        return scene.RenderFrame(1);
    }
}
