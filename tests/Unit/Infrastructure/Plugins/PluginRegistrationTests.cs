using CleanRealtime.Plugins.Sdk;
using CleanRealtime.Infrastructure.Plugins;
using Microsoft.Extensions.DependencyInjection;
using OpenCvSharp;

namespace CleanRealtime.UnitTests.Infrastructure.Plugins;

public sealed class PluginRegistrationTests
{
    [Fact]
    public void AddBuiltInPlugins_RegistersTheFivePluginsInOrder()
    {
        using var provider = BuildProvider();

        var names = provider.GetServices<IFramePlugin>().Select(p => p.Name);

        Assert.Equal(["player_detection", "ball_detection", "motion_detection", "pitch_detection", "frame_quality"], names);
    }

    [Fact]
    public void Plugins_Metadata_IsComplete()
    {
        using var provider = BuildProvider();

        Assert.All(provider.GetServices<IFramePlugin>(), plugin =>
        {
            Assert.Equal("1.0.0", plugin.Metadata.Version);
            Assert.False(string.IsNullOrWhiteSpace(plugin.Metadata.Model));
            Assert.False(string.IsNullOrWhiteSpace(plugin.Metadata.OutputFormat));
            Assert.Equal([null, null, 3], plugin.Metadata.InputShape);
            Assert.InRange(plugin.Metadata.ConfidenceDefault, 0, 1);
            Assert.Contains("cpu", plugin.Metadata.Capabilities);
        });
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 8)]
    [InlineData(64, 64)]
    [InlineData(3840, 64)]
    [InlineData(64, 2160)]
    public void Plugins_TinyOrOddlyShapedFrames_AreAnalysedWithoutErrors(int width, int height)
    {
        using var provider = BuildProvider();

        foreach (var plugin in provider.GetServices<IFramePlugin>())
        {
            using var session = plugin.OpenSession(new PluginSessionOptions { Fps = 30, FrameCount = 2 });
            for (var index = 1; index <= 2; index++)
            {
                using var frame = new VideoFrame(index, index * 33.3, new Mat(height, width, MatType.CV_8UC3, new Scalar(50, 135 + index, 55)));
                Assert.NotNull(session.Analyze(frame, new PluginFrameContext()));
            }
        }
    }

    private static ServiceProvider BuildProvider() =>
        new ServiceCollection()
            .AddLogging()
            .AddBuiltInPlugins()
            .BuildServiceProvider();
}
