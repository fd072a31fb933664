using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.MediaLibrary;
using CleanRealtime.Infrastructure.Devices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Infrastructure.Media;

internal static class MediaRegistration
{
    /// <summary>
    /// Frame sources (media root from <c>Media</c>), the media library, the frame picture renderer and the device probe.
    /// The built-in plugins are registered in <see cref="Plugins.PluginRegistration"/>.
    /// </summary>
    public static IServiceCollection AddMedia(this IServiceCollection services, IConfiguration configuration)
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
        return services;
    }
}
