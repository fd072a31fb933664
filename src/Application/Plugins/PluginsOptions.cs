namespace CleanRealtime.Application.Plugins;

/// <summary>Configuration section <c>Plugins</c> (API.md §4, §7).</summary>
public sealed class PluginsOptions
{
    /// <summary>
    /// Where plugin folders are loaded from at start (<c>Plugins:Directory</c>), relative to the working directory:
    /// one folder per plugin, each with a <c>plugin.json</c>. A missing directory means no folder plugins.
    /// </summary>
    public string Directory { get; set; } = "plugins";

    /// <summary>How long a process plugin may take to answer <c>ready</c> (<c>Plugins:ProcessStartTimeout</c>).</summary>
    public TimeSpan ProcessStartTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest result a plugin may give for one frame, in bytes of JSON (<c>Plugins:MaxResultBytes</c>).</summary>
    public int MaxResultBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How many job events may wait for one plugin event handler (<c>Plugins:HandlerQueueCapacity</c>); beyond it the
    /// handler misses events, counted and logged.
    /// </summary>
    public int HandlerQueueCapacity { get; set; } = 10_000;

    /// <summary>How long one call of a plugin event handler may take before it is logged and left behind (<c>Plugins:HandlerTimeout</c>).</summary>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
