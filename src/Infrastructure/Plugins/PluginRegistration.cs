using CleanRealtime.Plugins.BuiltIn;
using CleanRealtime.Plugins.Sdk;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Infrastructure.Plugins;

internal static class PluginRegistration
{
    /// <summary>
    /// The built-in OpenCV plugins, one line each. Their order is the order of <c>GET /v1/plugins</c>; a new plugin
    /// is one <see cref="IFramePlugin"/> class in this folder and one line here.
    /// </summary>
    public static IServiceCollection AddBuiltInPlugins(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);

        services.AddSingleton<IFramePlugin, PlayerDetectionPlugin>();
        services.AddSingleton<IFramePlugin, BallDetectionPlugin>();
        services.AddSingleton<IFramePlugin, MotionDetectionPlugin>();
        services.AddSingleton<IFramePlugin, PitchDetectionPlugin>();
        services.AddSingleton<IFramePlugin, FrameQualityPlugin>();
        return services;
    }
}
