namespace CleanRealtime.Application.Plugins;

/// <summary>What a plugin says about itself; sent as the <c>metadata</c> message and listed by <c>GET /v1/plugins</c>.</summary>
public sealed record PluginMetadata(
    string Version,
    string Model,
    IReadOnlyList<int?> InputShape,
    string OutputFormat,
    double ConfidenceDefault,
    IReadOnlyList<string> Capabilities);
