using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Reads a job's published messages after a <c>seq</c>: from the running job's in-memory tail when it still holds the
/// resume point (no database read), else from the event log (after the pending writes are flushed, so the log and the
/// tail leave no gap between them). On a node that does not run the job, the tail is its mirror's
/// (<see cref="RemoteJobStreams"/>), and the log is read up to where the mirror begins.
/// </summary>
public sealed class JobHistory(JobStreams streams, RemoteJobStreams remote, JobEventWriter writer, IJobEventLog log)
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
    /// <see cref="ReadAsync"/> for a subscriber that goes live when it gets an empty page: on a node that does not run the
    /// job, its mirror follows the job from that point on at the latest, so the live feed starts where the history ended.
    /// </summary>
    public async Task<IReadOnlyList<OutboundMessage>> ReadForSubscriberAsync(Guid jobId, long afterSeq, int limit, CancellationToken cancellationToken)
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
