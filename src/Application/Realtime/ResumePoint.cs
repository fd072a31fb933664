using System.Globalization;

namespace CleanRealtime.Application.Realtime;

/// <summary>A <c>since</c> value (API.md §3.8, §2.7): the last <c>seq</c> a client has; an integer ≥ 0.</summary>
public static class ResumePoint
{
    public const string Rule = "'since' must be an integer >= 0 (the last seq received; 0 for the whole job).";

    public static bool TryParse(string? value, out long since) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out since);
}

/// <summary>A resume point older than what is still kept (retention): answered with <c>REPLAY_UNAVAILABLE</c> / 410.</summary>
public sealed class ReplayUnavailableException(Guid jobId, long firstSeq)
    : Exception($"Messages of job {jobId} before seq {firstSeq} are no longer kept; the first kept is {firstSeq}.")
{
    public Guid JobId { get; } = jobId;

    public long FirstSeq { get; } = firstSeq;
}
