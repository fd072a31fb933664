namespace CleanRealtime.Application.Plugins;

/// <summary>What a plugin says about itself; sent as the <c>metadata</c> message and listed by <c>GET /v1/plugins</c>.</summary>
public sealed record PluginMetadata(
    string Version,
    string Model,
    IReadOnlyList<int?> InputShape,
    string OutputFormat,
    double ConfidenceDefault,
    IReadOnlyList<string> Capabilities);

public static class PluginMetadataExtensions
{
    /// <summary>The <c>metadata</c> message announcing a plugin to realtime clients.</summary>
    public static Domain.Realtime.MetadataPayload ToMetadataPayload(this IFramePlugin plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        var m = plugin.Metadata;
        return new Domain.Realtime.MetadataPayload(
            plugin.Name, new Domain.Realtime.PluginMetadataInfo(m.Version, m.Model, m.InputShape, m.OutputFormat, m.ConfidenceDefault, m.Capabilities));
    }
}
