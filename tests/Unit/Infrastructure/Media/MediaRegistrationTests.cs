using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Media;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenCvSharp;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class MediaRegistrationTests
{
    [Fact]
    public void AddMediaAndPlugins_RegistersTheFivePluginsInOrder()
    {
        using var provider = BuildProvider("/srv/media");

        var names = provider.GetServices<IFramePlugin>().Select(p => p.Name);

        Assert.Equal(["player_detection", "ball_detection", "motion_detection", "pitch_detection", "frame_quality"], names);
    }

    [Fact]
    public void AddMediaAndPlugins_BindsTheMediaRoot()
    {
        using var provider = BuildProvider("/srv/media");

        var factory = Assert.IsType<FrameSourceFactory>(provider.GetRequiredService<IFrameSourceFactory>());

        Assert.Equal("/srv/media", factory.Root);
        Assert.Same(factory, provider.GetRequiredService<IFrameSourceFactory>());
    }

    [Fact]
    public void AddMediaAndPlugins_RegistersASingleDeviceProbe()
    {
        using var provider = BuildProvider("/srv/media");

        var probe = provider.GetRequiredService<IDeviceProbe>();

        Assert.Same(probe, provider.GetRequiredService<IDeviceProbe>());
        Assert.True(probe.IsAvailable(Device.Cpu));
    }

    [Fact]
    public void Plugins_Metadata_IsComplete()
    {
        using var provider = BuildProvider("/srv/media");

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
        using var provider = BuildProvider("/srv/media");

        foreach (var plugin in provider.GetServices<IFramePlugin>())
        {
            using var session = plugin.OpenSession(new PluginSessionOptions("cpu", 30, 2));
            for (var index = 1; index <= 2; index++)
            {
                using var frame = new VideoFrame(index, index * 33.3, new Mat(height, width, MatType.CV_8UC3, new Scalar(50, 135 + index, 55)));
                Assert.NotNull(session.Analyze(frame, new PluginFrameContext()));
            }
        }
    }

    private static ServiceProvider BuildProvider(string mediaRoot)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Media:Root"] = mediaRoot })
            .Build();
        return new ServiceCollection()
            .AddLogging()
            .AddMediaAndPlugins(configuration)
            .BuildServiceProvider();
    }
}
