namespace CleanRealtime.Domain.Jobs;

public enum JobStatus
{
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

public static class JobStatusExtensions
{
    public static bool IsFinished(this JobStatus status) =>
        status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;

    // One switch over every member and no default arm: a status added without its name fails to compile (CS8509).
#pragma warning disable CS8524 // Values outside the named members are not statuses.
    public static string ToWire(this JobStatus status) => status switch
    {
        JobStatus.Queued => "queued",
        JobStatus.Running => "running",
        JobStatus.Completed => "completed",
        JobStatus.Failed => "failed",
        JobStatus.Cancelled => "cancelled",
    };
#pragma warning restore CS8524

    /// <summary>Every status's wire name, in declaration order: the one list validators and messages use.</summary>
    public static IReadOnlyList<string> WireNames { get; } = [.. Enum.GetValues<JobStatus>().Select(ToWire)];

    public static bool TryParseWire(string? value, out JobStatus status)
    {
        foreach (var candidate in Enum.GetValues<JobStatus>())
        {
            if (string.Equals(candidate.ToWire(), value, StringComparison.Ordinal))
            {
                status = candidate;
                return true;
            }
        }

        status = default;
        return false;
    }
}
