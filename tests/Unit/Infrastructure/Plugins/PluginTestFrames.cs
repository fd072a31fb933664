using OpenCvSharp;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.UnitTests.Infrastructure.Plugins;

/// <summary>Frames with known content for the plugin tests.</summary>
internal static class PluginTestFrames
{
    public static readonly Scalar Grass = new(52, 138, 56);

    public static PluginSessionOptions Options { get; } = new() { Fps = 30 };

    public static Mat Uniform(Scalar colour, int width = 640, int height = 360) =>
        new(height, width, MatType.CV_8UC3, colour);

    public static VideoFrame Frame(Mat image, int index = 1) => new(index, Math.Round(index * 1000.0 / 30, 1), image);

    public static (T Result, PluginFrameContext Context) Analyze<T>(IPluginSession session, Mat image, int index = 1)
    {
        using var frame = Frame(image, index);
        var context = new PluginFrameContext();
        var result = session.Analyze(frame, context);
        return (Assert.IsType<T>(result), context);
    }
}
