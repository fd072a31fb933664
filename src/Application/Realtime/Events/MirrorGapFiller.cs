using CleanRealtime.Application.Common;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Fills a <see cref="RemoteJobMirror"/> from the event log: a gap (a live message whose <c>seq</c> jumped) up to the
/// highest <c>seq</c> heard of, or a catch-up (nothing heard, or the link was down) until the log has nothing new.
/// </summary>
/// <remarks>
/// The part of the mirrors that waits: it reads the log, retries while the log lags the live feed, and gives a gap up
/// after <see cref="RealtimeOptions.BackplaneGapTimeout"/>. Kept apart from <see cref="RemoteJobStreams"/>, whose
/// members never wait (the backplane's receive loop calls them), so the slow path reads on its own. One fill at most
/// runs per mirror (<see cref="RemoteJobMirror.Filling"/>); it logs through the mirrors' logger, so its lines keep the
/// <see cref="RemoteJobStreams"/> category.
/// </remarks>
internal sealed partial class MirrorGapFiller(
    JobStreams local, IJobEventLog log, RealtimeOptions options, TimeProvider time, ILogger logger,
    Action<RemoteJobMirror, string> removeLocked) : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly RealtimeOptions _options = options;
    private readonly int _pageSize = Math.Max(1, options.EventLogBatchSize);
    private long _filledFromLog;
    private long _skipped;

    /// <summary>How long a gap waits before the log is read again: the log lags the live feed by one batch write, milliseconds.</summary>
    public TimeSpan LogRetryDelay => _options.BackplaneCatchUpInterval < TimeSpan.FromMilliseconds(100)
        ? _options.BackplaneCatchUpInterval
        : TimeSpan.FromMilliseconds(100);

    /// <summary>Messages the mirrors took from the event log because the backplane did not bring them.</summary>
    public long FilledFromLog => Interlocked.Read(ref _filledFromLog);

    /// <summary>Messages the mirrors skipped: not brought by the backplane and not in the log.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>Starts a fill of a mirror whose <see cref="RemoteJobMirror.Filling"/> the caller has just set, under its gate.</summary>
    public void Start(RemoteJobMirror mirror) => _ = FillAsync(mirror);

    /// <summary>The mirror reads the log after its last <c>seq</c>: in the running fill, or in a new one.</summary>
    public void RequestCatchUp(RemoteJobMirror mirror)
    {
        lock (mirror.Gate)
        {
            if (mirror.Removed || mirror.Tail.Ended)
            {
                return;
            }

            mirror.CatchUp = true;
            if (mirror.Filling)
            {
                return;
            }

            mirror.Filling = true;
        }

        _ = FillAsync(mirror);
    }

    /// <summary>The node is stopping: fills still waiting for the log give up.</summary>
    public void Stop() => _stopping.Cancel();

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>
    /// Reads the log after the mirror's last <c>seq</c> until it reaches the highest one heard of (a gap) or the log has
    /// nothing more (a catch-up), delivering in order, then the messages held behind the gap. The only writer of the
    /// mirror while <see cref="RemoteJobMirror.Filling"/> is set.
    /// </summary>
    /// <remarks>
    /// Messages the log holds after a <c>seq</c> it lacks are held like live ones behind a gap. When one of them is the
    /// job's end, the gap is never filled (the log is written in <c>seq</c> order, so what its end did not follow is lost:
    /// a worker that died before storing its last messages, whose end another node wrote after them): it is skipped at
    /// once, so the end reaches the subscribers. A mirror whose end came from the log is dropped: the log is the job's
    /// history from then on, the same on every node.
    /// </remarks>
    private async Task FillAsync(RemoteJobMirror mirror)
    {
        try
        {
            await FillCoreAsync(mirror, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            LogFillStopped(mirror.JobId);
        }
        catch (Exception ex)
        {
            // A defect, not a missing message: logged in full; the next catch-up starts a new fill.
            LogFillFailed(ex, mirror.JobId);
            lock (mirror.Gate)
            {
                mirror.Filling = false;
            }
        }
    }

    private async Task FillCoreAsync(RemoteJobMirror mirror, CancellationToken cancellationToken)
    {
        var jobId = mirror.JobId;
        var started = time.GetTimestamp();
        long from, filled = 0, fromHeld = 0;
        var logHoldsEnd = false;
        lock (mirror.Gate)
        {
            from = mirror.Tail.NextSeq;
        }

        while (true)
        {
            long after, target;
            bool catchUp;
            lock (mirror.Gate)
            {
                fromHeld += mirror.DeliverHeldLocked();
                if (logHoldsEnd && mirror.Tail.Ended)
                {
                    EndFromLogLocked(mirror, from, filled, fromHeld, started);
                    return;
                }

                after = mirror.Tail.LastSeq;
                target = mirror.HighestSeen;
                catchUp = mirror.CatchUp;
                mirror.CatchUp = false;
                if (mirror.Removed || (after >= target && !catchUp))
                {
                    mirror.Filling = false;
                    if (filled > 0)
                    {
                        Interlocked.Add(ref _filledFromLog, filled);
                        LogGapFilled(jobId, from, after, filled, fromHeld, time.GetElapsedTime(started).TotalMilliseconds);
                    }

                    return;
                }
            }

            IReadOnlyList<JobEvent> stored;
            try
            {
                stored = await log.ReadAsync(jobId, after, _pageSize, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store is unreachable: keep the gap open and try again, like any message the log does not have yet.
                LogFillReadFailed(ex, jobId, after + 1);
                stored = [];
            }

            var delivered = 0;
            lock (mirror.Gate)
            {
                if (local.PublishesHere(jobId))
                {
                    // The job runs here after all (it was queued when a subscriber followed it): its own stream feeds the subscribers.
                    removeLocked(mirror, "its job runs on this node");
                    mirror.Filling = false;
                    return;
                }

                foreach (var jobEvent in stored)
                {
                    logHoldsEnd |= jobEvent.EndsJob;
                    if (jobEvent.Seq == mirror.Tail.NextSeq)
                    {
                        mirror.DeliverLocked(JobHistory.ToOutbound(jobEvent), jobEvent.EndsJob);
                        delivered++;
                    }
                    else if (jobEvent.Seq > mirror.Tail.NextSeq)
                    {
                        // The log goes on after a seq it lacks: held behind the gap, like a live message.
                        mirror.Pending.TryAdd(
                            jobEvent.Seq,
                            new BackplaneMessage(string.Empty, jobId, jobEvent.Seq, jobEvent.Type, jobEvent.EndsJob, jobEvent.Json));
                        mirror.HighestSeen = Math.Max(mirror.HighestSeen, jobEvent.Seq);
                    }
                }

                if (logHoldsEnd && mirror.Tail.Ended)
                {
                    EndFromLogLocked(mirror, from, filled + delivered, fromHeld, started);
                    return;
                }

                if (catchUp && delivered > 0)
                {
                    // More may follow the page: read on until the log has nothing new.
                    mirror.CatchUp = true;
                }
            }

            filled += delivered;
            if (delivered > 0 || after >= target)
            {
                continue;
            }

            // A gap the log holds the job's end after: it is never filled.
            if (logHoldsEnd)
            {
                lock (mirror.Gate)
                {
                    if (mirror.Pending.Count > 0)
                    {
                        var resumeAt = mirror.Pending.Keys.First() - 1;
                        if (resumeAt > mirror.Tail.LastSeq)
                        {
                            Interlocked.Add(ref _skipped, resumeAt - mirror.Tail.LastSeq);
                            LogGapBeforeEnd(jobId, mirror.Tail.NextSeq, resumeAt);
                            mirror.SkipToLocked(resumeAt);
                        }

                        continue;
                    }
                }
            }

            // A gap the log does not hold yet: it lags the live feed by its batch write.
            if (time.GetElapsedTime(started) >= _options.BackplaneGapTimeout)
            {
                lock (mirror.Gate)
                {
                    var resumeAt = mirror.Pending.Count > 0 ? mirror.Pending.Keys.First() - 1 : mirror.HighestSeen;
                    Interlocked.Add(ref _skipped, Math.Max(0, resumeAt - mirror.Tail.LastSeq));
                    LogGapSkipped(jobId, mirror.Tail.NextSeq, resumeAt, _options.BackplaneGapTimeout.TotalSeconds);
                    mirror.SkipToLocked(resumeAt);
                }

                started = time.GetTimestamp();
                continue;
            }

            await Task.Delay(LogRetryDelay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The mirror delivered the job's end, and the log holds it: the mirror is dropped at once, so every read of the job's
    /// history on this node goes to the log, as on every other node.
    /// </summary>
    private void EndFromLogLocked(RemoteJobMirror mirror, long from, long filled, long fromHeld, long started)
    {
        mirror.Filling = false;
        if (filled + fromHeld > 0)
        {
            Interlocked.Add(ref _filledFromLog, filled);
            LogGapFilled(mirror.JobId, from, mirror.Tail.LastSeq, filled, fromHeld, time.GetElapsedTime(started).TotalMilliseconds);
        }

        removeLocked(mirror, "its job ended and its log holds the end");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: filled seq {From} to {To} from the event log ({Filled} messages, then {Held} held ones) in {ElapsedMs:F0} ms")]
    private partial void LogGapFilled(Guid jobId, long from, long to, long filled, long held, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: seq {From} to {To} are not in the event log after {Seconds:F0} s; skipped (the publishing node failed to store them)")]
    private partial void LogGapSkipped(Guid jobId, long from, long to, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: seq {From} to {To} are not in the event log, which holds the job's end after them; skipped (never stored)")]
    private partial void LogGapBeforeEnd(Guid jobId, long from, long to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: reading seq {From} on from the event log failed; retrying")]
    private partial void LogFillReadFailed(Exception exception, Guid jobId, long from);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: filling a gap failed; the next catch-up tries again")]
    private partial void LogFillFailed(Exception exception, Guid jobId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}: gap fill stopped with the node")]
    private partial void LogFillStopped(Guid jobId);
}
