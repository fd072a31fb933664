using System.Collections.Concurrent;
using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// A job message published on another node, as the backplane carries it: the envelope's bytes, what routes them, and
/// when the publishing node published it (UTC ticks; what the backplane latency is measured from).
/// </summary>
public sealed record BackplaneMessage(string NodeId, Guid JobId, long Seq, MessageType Type, bool EndsJob, byte[] Json, long PublishedAtUtcTicks = 0)
{
    public OutboundMessage ToOutbound() => new(Type, Json, Seq);
}

/// <summary>
/// This node's mirrors of the jobs that run on other nodes and have subscribers here (API.md §5): each mirror is a
/// <see cref="JobStream"/> (the tail resumes read from) that delivers the job's messages to the local fan-out once
/// each, in <c>seq</c> order, whatever the backplane does.
/// </summary>
/// <remarks>
/// Redis pub/sub is at-most-once: a message can be lost while the link is down, or dropped by a full outbox. A mirror
/// never delivers past a hole: a message whose <c>seq</c> jumps is held while the missing ones are read from the event
/// log (which lags the live feed by its batch write, so the read is retried every 100 ms); a message that arrives after the log filled it is ignored.
/// A lost message with nothing after it (the job's end, or Redis down) is found by the catch-up: a mirror that heard
/// nothing for one interval, every mirror while the link is down, and every mirror at once when it comes back read the
/// log after their last <c>seq</c>. Only a gap the log still lacks after <see cref="RealtimeOptions.BackplaneGapTimeout"/>
/// (messages the publishing node failed to store) is skipped, logged as an error.
/// </remarks>
public sealed partial class RemoteJobStreams(
    JobStreams local, IJobEventLog log, IRealtimeBroadcaster fanOut, IOptions<RealtimeOptions> options, TimeProvider time,
    ILogger<RemoteJobStreams> logger) : IDisposable
{
    // Messages held behind a gap; past this they are dropped (the log holds them) and read from the log instead.
    private const int MaxPending = 10_000;

    private readonly ConcurrentDictionary<Guid, Mirror> _mirrors = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly RealtimeOptions _options = options.Value;
    private readonly int _tailSize = Math.Max(1, options.Value.ReplayTailSize);
    private readonly int _pageSize = Math.Max(1, options.Value.EventLogBatchSize);
    private volatile bool _linkDown;

    // How long a gap waits before the log is read again: the log lags the live feed by one batch write, milliseconds.
    private TimeSpan LogRetryDelay => _options.BackplaneCatchUpInterval < TimeSpan.FromMilliseconds(100)
        ? _options.BackplaneCatchUpInterval
        : TimeSpan.FromMilliseconds(100);

    /// <summary>Whether messages of jobs run elsewhere reach this node (<c>Realtime:Backplane</c> is not <c>none</c>).</summary>
    public bool Enabled => _options.HasBackplane;

    /// <summary>Jobs mirrored now.</summary>
    public int Count => _mirrors.Count;

    private long _filledFromLog;
    private long _skipped;

    /// <summary>Messages this node's mirrors took from the event log because the backplane did not bring them (for <c>/metrics</c>).</summary>
    public long FilledFromLog => Interlocked.Read(ref _filledFromLog);

    /// <summary>Messages this node's mirrors skipped: not brought by the backplane and not in the log (for <c>/metrics</c>).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>Whether a subscriber here gets the job's live messages through a mirror: the job is not published by this node.</summary>
    public bool RunsElsewhere(Guid jobId) => Enabled && !local.PublishesHere(jobId);

    /// <summary>The highest <c>seq</c> of the job this node heard of from the other nodes (0 when it does not mirror the job).</summary>
    public long HighestSeen(Guid jobId)
    {
        if (!_mirrors.TryGetValue(jobId, out var mirror))
        {
            return 0;
        }

        lock (mirror.Gate)
        {
            return Math.Max(mirror.HighestSeen, mirror.Tail.LastSeq);
        }
    }

    /// <summary>
    /// A message from another node, in the order the backplane delivered it. Delivered at once when it is the next
    /// <c>seq</c>; held behind a gap until the log fills it; ignored when already delivered or nobody here follows the job.
    /// </summary>
    public void Receive(BackplaneMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!Enabled)
        {
            return;
        }

        while (true)
        {
            if (!_mirrors.TryGetValue(message.JobId, out var mirror))
            {
                // A job nobody here follows costs nothing more than this lookup.
                if (!fanOut.HasSubscribers(message.JobId) || local.PublishesHere(message.JobId))
                {
                    return;
                }

                mirror = _mirrors.GetOrAdd(message.JobId, id => new Mirror(id, message.Seq - 1, _tailSize, time.GetTimestamp()));
            }

            var startFill = false;
            lock (mirror.Gate)
            {
                if (mirror.Removed)
                {
                    continue;
                }

                mirror.LastHeard = time.GetTimestamp();
                if (message.Seq <= mirror.Tail.LastSeq)
                {
                    return;
                }

                if (!mirror.Filling && message.Seq == mirror.Tail.NextSeq)
                {
                    DeliverLocked(mirror, message.ToOutbound(), message.EndsJob);
                    return;
                }

                mirror.HighestSeen = Math.Max(mirror.HighestSeen, message.Seq);
                if (mirror.Pending.Count >= MaxPending)
                {
                    mirror.Pending.Clear();
                }

                mirror.Pending[message.Seq] = message;
                if (!mirror.Filling)
                {
                    mirror.Filling = true;
                    startFill = true;
                    LogGap(message.JobId, mirror.Tail.NextSeq, message.Seq - 1);
                }
            }

            if (startFill)
            {
                _ = FillAsync(mirror);
            }

            return;
        }
    }

    /// <summary>
    /// A subscriber here has everything up to <paramref name="afterSeq"/> and goes live: makes sure the job is mirrored
    /// from there at the latest (a new mirror starts after <paramref name="afterSeq"/>). False when the job is published
    /// by this node (its own stream feeds the subscriber).
    /// </summary>
    public bool Follow(Guid jobId, long afterSeq)
    {
        if (!RunsElsewhere(jobId))
        {
            return false;
        }

        while (true)
        {
            var mirror = _mirrors.GetOrAdd(jobId, id => new Mirror(id, afterSeq, _tailSize, time.GetTimestamp()));
            lock (mirror.Gate)
            {
                if (mirror.Removed)
                {
                    continue;
                }

                mirror.FollowedAt = time.GetTimestamp();
                return true;
            }
        }
    }

    /// <summary>
    /// The mirrored job's messages after <paramref name="afterSeq"/> for a resume: from the mirror's tail, or (before the
    /// tail begins) from the event log, waiting for it while it lags behind the tail. Null when the job is not mirrored.
    /// </summary>
    public async Task<IReadOnlyList<OutboundMessage>?> TryReadAsync(Guid jobId, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        if (!_mirrors.TryGetValue(jobId, out var mirror))
        {
            return null;
        }

        var started = time.GetTimestamp();
        while (true)
        {
            var tail = mirror.Tail;
            var page = new List<OutboundMessage>(Math.Min(limit, 256));
            if (tail.TryRead(afterSeq, limit, page))
            {
                return page;
            }

            // The tail begins after afterSeq: the log holds the ones before it (they were published before it started).
            var stored = await log.ReadAsync(jobId, afterSeq, limit, cancellationToken).ConfigureAwait(false);
            var contiguous = Contiguous(stored, afterSeq);
            if (contiguous.Count > 0)
            {
                return contiguous;
            }

            if (time.GetElapsedTime(started) >= _options.BackplaneGapTimeout)
            {
                LogReplayGapSkipped(jobId, afterSeq + 1, _options.BackplaneGapTimeout.TotalSeconds);
                page.Clear();
                tail.TryRead(tail.FirstSeq - 1, limit, page);
                return page;
            }

            await Task.Delay(LogRetryDelay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The node is stopping: gap fills still waiting for the log give up.</summary>
    public void Stop() => _stopping.Cancel();

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>The link to the other nodes is down: every mirror reads the log each interval until it is back.</summary>
    public void LinkLost()
    {
        if (!_linkDown)
        {
            _linkDown = true;
            LogLinkLost(_mirrors.Count);
        }
    }

    /// <summary>The link is back: messages published meanwhile were lost on it, so every mirror catches up from the log now.</summary>
    public void LinkRestored()
    {
        _linkDown = false;
        LogLinkRestored(_mirrors.Count);
        foreach (var mirror in _mirrors.Values)
        {
            RequestCatchUp(mirror);
        }
    }

    /// <summary>
    /// One round of housekeeping (every <see cref="RealtimeOptions.BackplaneCatchUpInterval"/>): mirrors that heard
    /// nothing for an interval (or all while the link is down) catch up from the log; mirrors nobody follows any more,
    /// and those of ended jobs whose end is in the log, are dropped.
    /// </summary>
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var interval = _options.BackplaneCatchUpInterval;
        foreach (var mirror in _mirrors.Values)
        {
            bool ended;
            lock (mirror.Gate)
            {
                if (mirror.Removed || mirror.Filling)
                {
                    continue;
                }

                if (!fanOut.HasSubscribers(mirror.JobId) && time.GetElapsedTime(mirror.FollowedAt) >= interval)
                {
                    RemoveLocked(mirror, "no subscriber here follows it");
                    continue;
                }

                ended = mirror.Tail.Ended;
            }

            if (ended)
            {
                var range = await log.GetRangeAsync(mirror.JobId, cancellationToken).ConfigureAwait(false);
                if (range is { Ended: true })
                {
                    lock (mirror.Gate)
                    {
                        if (!mirror.Removed && !mirror.Filling)
                        {
                            RemoveLocked(mirror, "its job ended and its log holds the end");
                        }
                    }
                }

                continue;
            }

            if (_linkDown || time.GetElapsedTime(Volatile.Read(ref mirror.LastHeard)) >= interval)
            {
                RequestCatchUp(mirror);
            }
        }
    }

    private void RequestCatchUp(Mirror mirror)
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

    /// <summary>
    /// Reads the log after the mirror's last <c>seq</c> until it reaches the highest one heard of (a gap) or the log has
    /// nothing more (a catch-up), delivering in order, then the messages held behind the gap. The only writer of the
    /// mirror while <see cref="Mirror.Filling"/> is set.
    /// </summary>
    /// <remarks>
    /// Messages the log holds after a <c>seq</c> it lacks are held like live ones behind a gap. When one of them is the
    /// job's end, the gap is never filled (the log is written in <c>seq</c> order, so what its end did not follow is lost:
    /// a worker that died before storing its last messages, whose end another node wrote after them): it is skipped at
    /// once, so the end reaches the subscribers. A mirror whose end came from the log is dropped: the log is the job's
    /// history from then on, the same on every node.
    /// </remarks>
    private async Task FillAsync(Mirror mirror)
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

    private async Task FillCoreAsync(Mirror mirror, CancellationToken cancellationToken)
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
                fromHeld += DeliverHeldLocked(mirror);
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
                    RemoveLocked(mirror, "its job runs on this node");
                    mirror.Filling = false;
                    return;
                }

                foreach (var jobEvent in stored)
                {
                    logHoldsEnd |= jobEvent.EndsJob;
                    if (jobEvent.Seq == mirror.Tail.NextSeq)
                    {
                        DeliverLocked(mirror, JobHistory.ToOutbound(jobEvent), jobEvent.EndsJob);
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
                            mirror.Tail = new JobStream(jobId, _tailSize, resumeAt);
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
                    mirror.Tail = new JobStream(jobId, _tailSize, resumeAt);
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
    private void EndFromLogLocked(Mirror mirror, long from, long filled, long fromHeld, long started)
    {
        mirror.Filling = false;
        if (filled + fromHeld > 0)
        {
            Interlocked.Add(ref _filledFromLog, filled);
            LogGapFilled(mirror.JobId, from, mirror.Tail.LastSeq, filled, fromHeld, time.GetElapsedTime(started).TotalMilliseconds);
        }

        RemoveLocked(mirror, "its job ended and its log holds the end");
    }

    /// <summary>Delivers the held messages that follow on without a gap; drops those already delivered.</summary>
    private long DeliverHeldLocked(Mirror mirror)
    {
        long delivered = 0;
        while (mirror.Pending.Count > 0)
        {
            var (seq, held) = mirror.Pending.First();
            if (seq > mirror.Tail.NextSeq)
            {
                break;
            }

            mirror.Pending.Remove(seq);
            if (seq == mirror.Tail.NextSeq)
            {
                DeliverLocked(mirror, held.ToOutbound(), held.EndsJob);
                delivered++;
            }
        }

        return delivered;
    }

    /// <summary>The tail first, then the fan-out: a resume that read the tail meets the live feed on <c>seq</c>.</summary>
    private void DeliverLocked(Mirror mirror, OutboundMessage message, bool endsJob)
    {
        mirror.Tail.Add(message, endsJob);
        mirror.HighestSeen = Math.Max(mirror.HighestSeen, mirror.Tail.LastSeq);
        fanOut.Deliver(mirror.JobId, message);
    }

    private void RemoveLocked(Mirror mirror, string reason)
    {
        mirror.Removed = true;
        _mirrors.TryRemove(new KeyValuePair<Guid, Mirror>(mirror.JobId, mirror));
        LogStopped(mirror.JobId, mirror.Tail.LastSeq, reason);
    }

    private static List<OutboundMessage> Contiguous(IReadOnlyList<JobEvent> stored, long afterSeq)
    {
        var page = new List<OutboundMessage>(stored.Count);
        foreach (var jobEvent in stored)
        {
            if (jobEvent.Seq != afterSeq + page.Count + 1)
            {
                break;
            }

            page.Add(JobHistory.ToOutbound(jobEvent));
        }

        return page;
    }

    private sealed class Mirror(Guid jobId, long startAfter, int tailSize, long now)
    {
        public readonly Lock Gate = new();
        public readonly SortedDictionary<long, BackplaneMessage> Pending = [];
        public long LastHeard = now;

        public Guid JobId { get; } = jobId;

        /// <summary>Replaced (never changed in place by anyone but the holder of <see cref="Gate"/>) when a gap is skipped.</summary>
        public JobStream Tail { get; set; } = new(jobId, tailSize, startAfter);

        /// <summary>The highest <c>seq</c> known to exist: every one up to it must be delivered.</summary>
        public long HighestSeen { get; set; } = startAfter;

        public bool Filling { get; set; }

        public bool CatchUp { get; set; }

        public bool Removed { get; set; }

        public long FollowedAt { get; set; } = now;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: seq {From} to {To} missing from the backplane; filling them from the event log")]
    private partial void LogGap(Guid jobId, long from, long to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: filled seq {From} to {To} from the event log ({Filled} messages, then {Held} held ones) in {ElapsedMs:F0} ms")]
    private partial void LogGapFilled(Guid jobId, long from, long to, long filled, long held, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: seq {From} to {To} are not in the event log after {Seconds:F0} s; skipped (the publishing node failed to store them)")]
    private partial void LogGapSkipped(Guid jobId, long from, long to, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: seq {From} to {To} are not in the event log, which holds the job's end after them; skipped (never stored)")]
    private partial void LogGapBeforeEnd(Guid jobId, long from, long to);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: a resume needs seq {From}, which is not in the event log after {Seconds:F0} s; it goes on from the mirror's tail")]
    private partial void LogReplayGapSkipped(Guid jobId, long from, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: reading seq {From} on from the event log failed; retrying")]
    private partial void LogFillReadFailed(Exception exception, Guid jobId, long from);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: filling a gap failed; the next catch-up tries again")]
    private partial void LogFillFailed(Exception exception, Guid jobId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}: gap fill stopped with the node")]
    private partial void LogFillStopped(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane link lost: {Mirrors} mirrored jobs read the event log until it is back")]
    private partial void LogLinkLost(int mirrors);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backplane link restored: {Mirrors} mirrored jobs catch up from the event log")]
    private partial void LogLinkRestored(int mirrors);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}: no longer mirrored at seq {Seq} ({Reason})")]
    private partial void LogStopped(Guid jobId, long seq, string reason);
}
