namespace CleanRealtime.Plugins.Sdk;

/// <summary>
/// What a plugin says about itself: sent as the <c>metadata</c> realtime message and listed by <c>GET /v1/plugins</c>.
/// </summary>
/// <param name="Version">The plugin's own version (SemVer).</param>
/// <param name="Model">The method or model it runs, e.g. <c>OpenCV HoughCircles</c>.</param>
/// <param name="InputShape">The frame shape it expects: height, width, channels (null = any).</param>
/// <param name="OutputFormat">A one-line description of its per-frame result.</param>
/// <param name="ConfidenceDefault">Its default confidence threshold (0 when it has none).</param>
/// <param name="Capabilities">Free tags, e.g. <c>ball_detection</c>, <c>cpu</c>.</param>
public sealed record PluginMetadata(
    string Version,
    string Model,
    IReadOnlyList<int?> InputShape,
    string OutputFormat,
    double ConfidenceDefault,
    IReadOnlyList<string> Capabilities)
{
    /// <summary>The per-job options it takes (API.md §7.2), in the order listed to clients.</summary>
    public IReadOnlyList<PluginOption> Options { get; init; } = [];

    /// <summary>Plugins whose results for the same frame it reads (API.md §7.4).</summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];
}
