using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Plugins;

/// <summary>
/// Watches plugins at work for one job: monotonic per-plugin timings (through <see cref="TimeProvider"/> timestamps),
/// their metadata, and the warnings they raise, kept in order and never de-duplicated. Not thread-safe: one runner owns it.
/// </summary>
public sealed class InspectorService(TimeProvider time)
{
    private readonly Dictionary<string, long> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PluginTimingStats> _timings = new(StringComparer.Ordinal);
    private readonly List<InspectedWarning> _warnings = [];
    private readonly Dictionary<string, PluginMetadata> _metadata = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, PluginTimingStats> Timings => _timings;

    public IReadOnlyList<InspectedWarning> Warnings => _warnings;

    /// <summary>The metadata of every plugin inspected so far, by plugin name.</summary>
    public IReadOnlyDictionary<string, PluginMetadata> Metadata => _metadata;

    public bool IsEmpty => _running.Count == 0 && _timings.Count == 0 && _warnings.Count == 0 && _metadata.Count == 0;

    public void StartTiming(string plugin)
    {
        ArgumentException.ThrowIfNullOrEmpty(plugin);
        _running[plugin] = time.GetTimestamp();
    }

    /// <summary>Stops the plugin's running measurement, adds it to the plugin's totals and returns it in milliseconds.</summary>
    public double StopTiming(string plugin)
    {
        if (!_running.Remove(plugin, out var started))
        {
            throw new InvalidOperationException($"No timing was started for plugin '{plugin}'.");
        }

        return RecordTiming(plugin, time.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Adds one measurement taken elsewhere (e.g. on an analysis thread) to the plugin's totals; returns it in ms.</summary>
    public double RecordTiming(string plugin, double elapsedMs)
    {
        ArgumentException.ThrowIfNullOrEmpty(plugin);
        elapsedMs = Math.Max(0, elapsedMs);
        var stats = _timings.GetValueOrDefault(plugin);
        _timings[plugin] = new PluginTimingStats(stats.Count + 1, stats.TotalMs + elapsedMs, elapsedMs);
        return elapsedMs;
    }

    public double TotalMs(string plugin) => _timings.GetValueOrDefault(plugin).TotalMs;

    public PluginMetadata Inspect(IFramePlugin plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        var metadata = plugin.Metadata ?? throw new InvalidOperationException($"Plugin '{plugin.Name}' has no metadata.");
        if (string.IsNullOrWhiteSpace(metadata.Version) || string.IsNullOrWhiteSpace(metadata.Model))
        {
            throw new InvalidOperationException($"Plugin '{plugin.Name}' must name its version and model.");
        }

        _metadata[plugin.Name] = metadata;
        return metadata;
    }

    public InspectedWarning RecordWarning(string plugin, string message, WarningSeverity severity, string? frameId = null)
    {
        var warning = new InspectedWarning(plugin, message, severity, frameId);
        _warnings.Add(warning);
        return warning;
    }

    public int WarningCount(string plugin) => _warnings.Count(w => string.Equals(w.Plugin, plugin, StringComparison.Ordinal));
}

public readonly record struct PluginTimingStats(int Count, double TotalMs, double LastMs);

public sealed record InspectedWarning(string Plugin, string Message, WarningSeverity Severity, string? FrameId)
{
    /// <summary>How the warning reads in a job's <c>warnings</c> list.</summary>
    public override string ToString() => FrameId is null ? $"{Plugin}: {Message}" : $"{Plugin}: {Message} ({FrameId})";
}
