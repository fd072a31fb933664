using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.MediaLibrary;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Infrastructure.Devices;
using CleanRealtime.Infrastructure.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Infrastructure.Media;

public static class MediaRegistration
{
    /// <summary>Frame sources (media root from <c>Media</c>), the device probe and the built-in OpenCV plugins.</summary>
    public static IServiceCollection AddMediaAndPlugins(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.Configure<MediaOptions>(configuration.GetSection(MediaOptions.SectionName));
        services.Configure<Application.MediaLibrary.UploadSharesOptions>(configuration.GetSection(MediaOptions.SectionName));
        services.AddSingleton(DiskSpace.System);
        services.AddHostedService<UploadLeftoverSweeper>();
        services.AddSingleton<FrameSourceFactory>();
        services.AddSingleton<IFrameSourceFactory>(sp => sp.GetRequiredService<FrameSourceFactory>());
        services.AddSingleton<IMediaLibrary, MediaLibrary>();
        services.AddSingleton<IFramePictureRenderer, FramePictureRenderer>();
        services.AddSingleton<IDeviceProbe, DeviceProbe>();

        services.AddSingleton<IFramePlugin, PlayerDetectionPlugin>();
        services.AddSingleton<IFramePlugin, BallDetectionPlugin>();
        services.AddSingleton<IFramePlugin, MotionDetectionPlugin>();
        services.AddSingleton<IFramePlugin, PitchDetectionPlugin>();
        services.AddSingleton<IFramePlugin, FrameQualityPlugin>();
        return services;
    }
}
