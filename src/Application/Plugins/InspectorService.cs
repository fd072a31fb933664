using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Plugins;

/// <summary>
/// Watches plugins at work for one job: checks what each declares before it starts, and tallies each one's timings
/// (measured on the monotonic clock by the frame pipeline) and the warnings it raises, every one counted, never
/// de-duplicated, for the plugin's final status. Not thread-safe: one job's reporter owns it.
/// </summary>
internal sealed class InspectorService
{
    private readonly Dictionary<string, double> _totalMs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _warnings = new(StringComparer.Ordinal);

    /// <summary>Adds one measurement (taken on an analysis thread) to the plugin's total; returns it in ms, never negative.</summary>
    public double RecordTiming(string plugin, double elapsedMs)
    {
        ArgumentException.ThrowIfNullOrEmpty(plugin);
        elapsedMs = Math.Max(0, elapsedMs);
        _totalMs[plugin] = _totalMs.GetValueOrDefault(plugin) + elapsedMs;
        return elapsedMs;
    }

    /// <summary>The plugin's analysis time so far in this job, in ms.</summary>
    public double TotalMs(string plugin) => _totalMs.GetValueOrDefault(plugin);

    /// <summary>The plugin's metadata, once it is checked to name its version and model (throws when it does not).</summary>
    public static PluginMetadata Inspect(IFramePlugin plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        var metadata = plugin.Metadata ?? throw new InvalidOperationException($"Plugin '{plugin.Name}' has no metadata.");
        if (string.IsNullOrWhiteSpace(metadata.Version) || string.IsNullOrWhiteSpace(metadata.Model))
        {
            throw new InvalidOperationException($"Plugin '{plugin.Name}' must name its version and model.");
        }

        return metadata;
    }

    /// <summary>Counts one warning the plugin raised.</summary>
    public void RecordWarning(string plugin)
    {
        ArgumentException.ThrowIfNullOrEmpty(plugin);
        _warnings[plugin] = _warnings.GetValueOrDefault(plugin) + 1;
    }

    /// <summary>How many warnings the plugin raised so far in this job.</summary>
    public int WarningCount(string plugin) => _warnings.GetValueOrDefault(plugin);
}
