using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Plugins;

/// <summary>What a plugin may report besides its result while it analyses one frame.</summary>
public sealed class PluginFrameContext
{
    private readonly List<PluginWarning> _warnings = [];
    private object? _partialResult;

    public IReadOnlyList<PluginWarning> Warnings => _warnings;

    public object? PartialResult => _partialResult;

    /// <summary>Raises a warning about this frame (kept in order, never de-duplicated).</summary>
    public void Warn(string message, WarningSeverity severity = WarningSeverity.Medium)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(message);
        _warnings.Add(new PluginWarning(message, severity));
    }

    /// <summary>Reports a running result over the frames seen so far (sent as <c>partial_result</c>).</summary>
    public void ReportPartial(object result)
    {
        ArgumentNullException.ThrowIfNull(result);
        _partialResult = result;
    }

    internal void Reset()
    {
        _warnings.Clear();
        _partialResult = null;
    }
}

public sealed record PluginWarning(string Message, WarningSeverity Severity);
