namespace CleanRealtime.Domain.Realtime;

/// <summary>The values of <c>details.error_code</c> in an <c>error</c> message.</summary>
public static class ErrorCodes
{
    public const string InvalidJson = "MSG_INVALID_JSON";
    public const string MissingField = "MSG_MISSING_FIELD";
    public const string UnknownType = "MSG_UNKNOWN_TYPE";
    public const string PluginTimeout = "PLUGIN_TIMEOUT";
    public const string PluginCrash = "PLUGIN_CRASH";
    public const string DeviceUnavailable = "DEVICE_UNAVAILABLE";
    public const string SourceUnreadable = "SOURCE_UNREADABLE";
    public const string ReplayUnavailable = "REPLAY_UNAVAILABLE";
    public const string WorkerLost = "WORKER_LOST";

    /// <summary>The job went over one of its budgets (<c>Jobs:MaxFrames</c>, <c>Jobs:MaxPixelsPerFrame</c>, <c>Jobs:MaxDuration</c>).</summary>
    public const string BudgetExceeded = "BUDGET_EXCEEDED";

    /// <summary>Every code above (read from this class itself, so a new constant is a valid code at once).</summary>
    public static IReadOnlySet<string> All { get; } = typeof(ErrorCodes)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToHashSet(StringComparer.Ordinal);
}
