using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Common;

/// <summary>
/// The durable log of every job's realtime messages (API.md §3.8), in <c>seq</c> order per job. A message is stored as
/// the exact bytes subscribers received, so a replay sends the same bytes again.
/// </summary>
public interface IJobEventLog
{
    /// <summary>Stores a batch of messages (of one or more jobs) in one transaction.</summary>
    Task AppendAsync(IReadOnlyList<JobEvent> events, CancellationToken cancellationToken);

    /// <summary>The job's messages with <c>seq</c> greater than <paramref name="afterSeq"/>, in order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<JobEvent>> ReadAsync(Guid jobId, long afterSeq, int limit, CancellationToken cancellationToken);

    /// <summary>The first and last <c>seq</c> still kept for the job (and whether the last ends it), or null when nothing is kept.</summary>
    Task<JobEventRange?> GetRangeAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>
    /// Drops the messages of every job that ended before <paramref name="endedBefore"/>, all but each job's last message
    /// (its end, which keeps telling how the job ended and which <c>seq</c> is the first kept), in small transactions
    /// that never hold the store for long; writes nothing when nothing is due. Stops between transactions when cancelled.
    /// </summary>
    Task<PurgeReport> PurgeAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken);
}

/// <summary>What a maintenance pass did: rows deleted, in how many transactions, and how long the longest one held the store.</summary>
public sealed record PurgeReport(int Deleted, int Transactions, TimeSpan LongestTransaction)
{
    public static readonly PurgeReport None = new(0, 0, TimeSpan.Zero);
}

/// <summary>One stored message of a job. <see cref="EndsJob"/> marks the job's last message (progress 100).</summary>
public sealed record JobEvent(Guid JobId, long Seq, MessageType Type, byte[] Json, DateTimeOffset At, bool EndsJob);

/// <param name="Ended">The last message kept is the job's last message (<see cref="JobEvent.EndsJob"/>).</param>
public sealed record JobEventRange(long FirstSeq, long LastSeq, bool Ended);
