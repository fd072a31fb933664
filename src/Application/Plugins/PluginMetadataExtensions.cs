using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Plugins;

internal static class PluginMetadataExtensions
{
    /// <summary>The <c>metadata</c> message announcing a plugin to realtime clients.</summary>
    public static MetadataPayload ToMetadataPayload(this IFramePlugin plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        return new MetadataPayload(plugin.Name, plugin.Metadata);
    }
}
