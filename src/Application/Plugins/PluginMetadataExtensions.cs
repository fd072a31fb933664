using CleanRealtime.Domain.Realtime;
using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Plugins;

public static class PluginMetadataExtensions
{
    /// <summary>The wire description of a plugin's metadata (the <c>metadata</c> message, <c>GET /v1/plugins</c>).</summary>
    public static PluginDescription ToDescription(this PluginMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return new PluginDescription(
            metadata.Version, metadata.Model, metadata.InputShape, metadata.OutputFormat, metadata.ConfidenceDefault, metadata.Capabilities);
    }

    /// <summary>The <c>metadata</c> message announcing a plugin to realtime clients.</summary>
    internal static MetadataPayload ToMetadataPayload(this IFramePlugin plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        return new MetadataPayload(plugin.Name, plugin.Metadata.ToDescription());
    }

    /// <summary>A plugin's warning severity as the realtime messages carry it.</summary>
    internal static Domain.Realtime.WarningSeverity ToDomain(this CleanRealtime.Plugins.Sdk.WarningSeverity severity) => severity switch
    {
        CleanRealtime.Plugins.Sdk.WarningSeverity.Low => Domain.Realtime.WarningSeverity.Low,
        CleanRealtime.Plugins.Sdk.WarningSeverity.High => Domain.Realtime.WarningSeverity.High,
        _ => Domain.Realtime.WarningSeverity.Medium,
    };
}
