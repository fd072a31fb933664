using System.Globalization;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime;

/// <summary>A <c>since</c> value (API.md §3.8, §2.7): the last <c>seq</c> a client has; an integer ≥ 0.</summary>
internal static class ResumePoint
{
    public const string Rule = "'since' must be an integer >= 0 (the last seq received; 0 for the whole job).";

    public static bool TryParse(string? value, out long since) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out since);
}

/// <summary>
/// A resume point older than what is still kept (retention), or a range of messages the store never kept (its write
/// failed after every retry): answered with <c>REPLAY_UNAVAILABLE</c> / 410, naming the first <c>seq</c> kept after it.
/// </summary>
public sealed class ReplayUnavailableException : Exception
{
    public ReplayUnavailableException(Guid jobId, long firstSeq)
        : base($"Messages of job {jobId} before seq {firstSeq} are no longer kept; the first kept is {firstSeq}.")
    {
        JobId = jobId;
        FirstSeq = firstSeq;
    }

    /// <summary>Messages <paramref name="missing"/> were published but never stored; <paramref name="firstSeq"/> is the next kept (null: none yet).</summary>
    public ReplayUnavailableException(Guid jobId, SeqRange missing, long? firstSeq)
        : base(MissingText(jobId, missing, firstSeq))
    {
        JobId = jobId;
        FirstSeq = firstSeq;
        Missing = missing;
    }

    public Guid JobId { get; }

    /// <summary>The first <c>seq</c> kept after the unavailable ones; null when nothing after them is kept.</summary>
    public long? FirstSeq { get; }

    /// <summary>The messages that were never stored, when that is the reason (not retention).</summary>
    public SeqRange? Missing { get; }

    /// <summary>The <c>error</c> a subscriber gets in place of the unavailable messages (no <c>seq</c>: it answers the client).</summary>
    public ErrorPayload ToErrorPayload() =>
        new(Message, JobId: JobId, Details: new ErrorDetails(ErrorCodes.ReplayUnavailable, Message));

    private static string MissingText(Guid jobId, SeqRange missing, long? firstSeq) =>
        $"Messages {missing} of job {jobId} are not in the event log (published but never stored, or reserved by a publisher that stopped first); they cannot be replayed."
        + (firstSeq is { } next ? $" The next kept is {next}." : " Nothing after them is kept.");
}

/// <summary>Messages <see cref="First"/> to <see cref="Last"/> of a job (<see cref="Last"/> null: to the job's end).</summary>
public readonly record struct SeqRange(long First, long? Last)
{
    public override string ToString() => Last is { } last ? (last == First ? $"{First}" : $"{First}-{last}") : $"{First} onwards";
}
