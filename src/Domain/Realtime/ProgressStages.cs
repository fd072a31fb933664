using CleanRealtime.Domain.Jobs;

namespace CleanRealtime.Domain.Realtime;

/// <summary>The values of a <c>progress</c> message's <c>stage</c>: the job started, is analysing, or ended with its status.</summary>
public static class ProgressStages
{
    public const string Started = "started";
    public const string Analyzing = "analyzing";

    /// <summary>Every stage: the two above and the wire name of each finished status.</summary>
    public static IReadOnlySet<string> All { get; } = new HashSet<string>(
        Enum.GetValues<JobStatus>().Where(s => s.IsFinished()).Select(s => s.ToWire()).Prepend(Analyzing).Prepend(Started),
        StringComparer.Ordinal);
}
