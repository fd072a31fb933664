using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Reads a job's published messages after a <c>seq</c>: from the running job's in-memory tail when it still holds the
/// resume point (no database read), else from the event log (after the pending writes are flushed, so the log and the
/// tail leave no gap between them). On a node that does not run the job, the tail is its mirror's
/// (<see cref="RemoteJobStreams"/>), and the log is read up to where the mirror begins.
/// <para>
/// The log holds a job's messages in <c>seq</c> order (one writer, in publication order), so a <c>seq</c> missing
/// between two stored ones was published and never stored (the store refused it after every retry): a reader is told
/// so (API.md §3.8, "never silent") — a subscriber by a <c>REPLAY_UNAVAILABLE</c> error before the messages after the
/// hole, a page reader by a page that stops at the hole and then a <see cref="ReplayUnavailableException"/>.
/// </para>
/// </summary>
public sealed class JobHistory(
    JobStreams streams, RemoteJobStreams remote, JobEventWriter writer, IJobEventLog log, RealtimeMessages messages, MessageSerializer serializer)
{
    public async Task<IReadOnlyList<OutboundMessage>> ReadAsync(Guid jobId, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        if (!streams.TryGet(jobId, out var stream)
            && await remote.TryReadAsync(jobId, afterSeq, limit, cancellationToken).ConfigureAwait(false) is { } mirrored)
        {
            return mirrored;
        }

        if (stream is not null)
        {
            var page = new List<OutboundMessage>(Math.Min(limit, 256));
            if (stream.TryRead(afterSeq, limit, page))
            {
                return page;
            }

            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        var stored = await log.ReadAsync(jobId, afterSeq, limit, cancellationToken).ConfigureAwait(false);
        return [.. stored.Select(ToOutbound)];
    }

    /// <summary>
    /// <see cref="ReadAsync"/>, stopping before the first missing <c>seq</c>: a page that starts at a hole is empty, with the
    /// hole (the missing range and the next <c>seq</c> kept) in <see cref="HistoryPage.Missing"/>.
    /// </summary>
    internal async Task<HistoryPage> ReadPageAsync(Guid jobId, long afterSeq, int limit, CancellationToken cancellationToken) =>
        CutAtHole(jobId, await ReadAsync(jobId, afterSeq, limit, cancellationToken).ConfigureAwait(false), afterSeq);

    /// <summary>
    /// <see cref="ReadForSubscriberCoreAsync"/>, with a <c>REPLAY_UNAVAILABLE</c> error (no <c>seq</c>) in place of messages
    /// that were never stored: the subscriber gets the error, then what follows the hole.
    /// </summary>
    public async Task<IReadOnlyList<OutboundMessage>> ReadForSubscriberAsync(Guid jobId, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        var page = await ReadForSubscriberCoreAsync(jobId, afterSeq, limit, cancellationToken).ConfigureAwait(false);
        var cut = CutAtHole(jobId, page, afterSeq);
        if (cut.Missing is not { } missing)
        {
            // The whole page, or the messages before a hole (the next page starts at it).
            return cut.Items;
        }

        var withNotice = new List<OutboundMessage>(page.Count + 1);
        if (messages.TryCreate(missing.ToErrorPayload(), out var error))
        {
            withNotice.Add(serializer.ToOutbound(error));
        }

        // What follows the hole, up to the next one (which the next page reports in turn).
        withNotice.AddRange(CutAtHole(jobId, page, page[0].Seq!.Value - 1).Items);
        return withNotice;
    }

    /// <summary>
    /// The page up to its first missing <c>seq</c> (counting on from <paramref name="afterSeq"/>); a page that starts at a
    /// hole is empty, with what is missing (counted as a gap reported).
    /// </summary>
    private HistoryPage CutAtHole(Guid jobId, IReadOnlyList<OutboundMessage> page, long afterSeq)
    {
        if (FindHole(page, afterSeq) is not { } hole)
        {
            return new HistoryPage(page, null);
        }

        var (at, missing) = hole;
        if (at > 0)
        {
            return new HistoryPage([.. page.Take(at)], null);
        }

        writer.Health.GapReported();
        return new HistoryPage([], new ReplayUnavailableException(jobId, missing, page[0].Seq));
    }

    /// <summary>The index of the first message after a missing <c>seq</c> (counting on from <paramref name="afterSeq"/>), and what is missing.</summary>
    private static (int At, SeqRange Missing)? FindHole(IReadOnlyList<OutboundMessage> page, long afterSeq)
    {
        var expected = afterSeq + 1;
        for (var i = 0; i < page.Count; i++)
        {
            if (page[i].Seq is not { } seq)
            {
                continue;
            }

            if (seq > expected)
            {
                return (i, new SeqRange(expected, seq - 1));
            }

            expected = seq + 1;
        }

        return null;
    }

    /// <summary>
    /// <see cref="ReadAsync"/> for a subscriber that goes live when it gets an empty page: on a node that does not run the
    /// job, its mirror follows the job from that point on at the latest, so the live feed starts where the history ended.
    /// </summary>
    private async Task<IReadOnlyList<OutboundMessage>> ReadForSubscriberCoreAsync(Guid jobId, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        var page = await ReadAsync(jobId, afterSeq, limit, cancellationToken).ConfigureAwait(false);
        if (page.Count > 0 || !remote.RunsElsewhere(jobId))
        {
            return page;
        }

        // Never ahead of the job: a resume point past its last message must not make the mirror skip what comes next.
        var stored = await log.GetRangeAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (!remote.Follow(jobId, Math.Min(afterSeq, stored?.LastSeq ?? 0)))
        {
            return page;
        }

        // The mirror may have started earlier and run ahead of what the log held a moment ago.
        return await ReadAsync(jobId, afterSeq, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The first and last <c>seq</c> kept for the job; a running job keeps everything (its first is 1). Null when the
    /// job has published nothing (or nothing is kept).
    /// </summary>
    public async Task<JobEventRange?> RangeAsync(Guid jobId, CancellationToken cancellationToken)
    {
        if (streams.TryGet(jobId, out var stream) && stream.LastSeq > 0)
        {
            return new JobEventRange(1, stream.LastSeq, stream.Ended);
        }

        return await log.GetRangeAsync(jobId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The job's last <c>progress</c> message as it was published, if it is still kept.</summary>
    public async Task<OutboundMessage?> LastProgressAsync(Guid jobId, CancellationToken cancellationToken)
    {
        if (streams.TryGet(jobId, out var stream) && stream.LastProgress is { } progress)
        {
            return progress;
        }

        // A job that has ended ends with its progress 100; a running one seen before its stream exists has none yet.
        if (await log.GetRangeAsync(jobId, cancellationToken).ConfigureAwait(false) is not { } range)
        {
            return null;
        }

        var last = await log.ReadAsync(jobId, range.LastSeq - 1, 1, cancellationToken).ConfigureAwait(false);
        return last is [{ Type: MessageType.Progress } end] ? ToOutbound(end) : null;
    }

    public static OutboundMessage ToOutbound(JobEvent stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return new OutboundMessage(stored.Type, stored.Json, stored.Seq);
    }
}

/// <summary>A page of a job's history: the messages in order, or, when the page starts at messages that were never stored, what is missing.</summary>
internal sealed record HistoryPage(IReadOnlyList<OutboundMessage> Items, ReplayUnavailableException? Missing);
