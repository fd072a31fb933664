using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Media;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Media;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class MediaRegistrationTests
{
    [Fact]
    public void AddMedia_BindsTheMediaRoot()
    {
        using var provider = BuildProvider("/srv/media");

        var factory = Assert.IsType<FrameSourceFactory>(provider.GetRequiredService<IFrameSourceFactory>());

        Assert.Equal("/srv/media", factory.Root);
        Assert.Same(factory, provider.GetRequiredService<IFrameSourceFactory>());
    }

    [Fact]
    public void AddMedia_RegistersASingleDeviceProbe()
    {
        using var provider = BuildProvider("/srv/media");

        var probe = provider.GetRequiredService<IDeviceProbe>();

        Assert.Same(probe, provider.GetRequiredService<IDeviceProbe>());
        Assert.True(probe.IsAvailable(Device.Cpu));
    }

    private static ServiceProvider BuildProvider(string mediaRoot)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Media:Root"] = mediaRoot })
            .Build();
        return new ServiceCollection()
            .AddLogging()
            .AddMedia(configuration)
            .BuildServiceProvider();
    }
}
