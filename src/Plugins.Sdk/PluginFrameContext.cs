namespace CleanRealtime.Plugins.Sdk;

/// <summary>What a plugin may report besides its result while it analyses one frame.</summary>
public sealed class PluginFrameContext
{
    private readonly List<PluginWarning> _warnings = [];

    /// <summary>The warnings raised for the current frame, in order.</summary>
    public IReadOnlyList<PluginWarning> Warnings => _warnings;

    /// <summary>The running result reported for the current frame, if any.</summary>
    public object? PartialResult { get; private set; }

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
        PartialResult = result;
    }

    internal void Reset()
    {
        _warnings.Clear();
        PartialResult = null;
    }
}

/// <summary>A warning a plugin raised about one frame.</summary>
public sealed record PluginWarning(string Message, WarningSeverity Severity);

/// <summary>How serious a warning is.</summary>
public enum WarningSeverity
{
    /// <summary>Worth knowing; the result is still sound.</summary>
    Low,

    /// <summary>The result may be less reliable.</summary>
    Medium,

    /// <summary>The result is probably wrong or incomplete.</summary>
    High,
}
