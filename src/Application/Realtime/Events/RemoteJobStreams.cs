using System.Collections.Concurrent;
using CleanRealtime.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// This node's mirrors of the jobs that run on other nodes and have subscribers here (API.md §5): each mirror
/// (<see cref="RemoteJobMirror"/>) is a <see cref="JobStream"/> (the tail resumes read from) that delivers the job's
/// messages to the local fan-out once each, in <c>seq</c> order, whatever the backplane does.
/// </summary>
/// <remarks>
/// Redis pub/sub is at-most-once: a message can be lost while the link is down, or dropped by a full outbox. A mirror
/// never delivers past a hole: a message whose <c>seq</c> jumps is held while the missing ones are read from the event
/// log (which lags the live feed by its batch write, so the read is retried every 100 ms); a message that arrives after the log filled it is ignored.
/// A lost message with nothing after it (the job's end, or Redis down) is found by the catch-up: a mirror that heard
/// nothing for one interval, every mirror while the link is down, and every mirror at once when it comes back read the
/// log after their last <c>seq</c>. Only a gap the log still lacks after <see cref="RealtimeOptions.BackplaneGapTimeout"/>
/// (messages the publishing node failed to store) is skipped, logged as an error.
/// This type is the registry: it creates, finds and drops mirrors, takes the live feed and the link's state, and sweeps;
/// the reads of the log that fill a mirror are <see cref="MirrorGapFiller"/>'s.
/// </remarks>
public sealed partial class RemoteJobStreams : IDisposable
{
    private readonly ConcurrentDictionary<Guid, RemoteJobMirror> _mirrors = new();
    private readonly JobStreams _local;
    private readonly IJobEventLog _log;
    private readonly IRealtimeBroadcaster _fanOut;
    private readonly RealtimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RemoteJobStreams> _logger;
    private readonly MirrorGapFiller _filler;
    private readonly int _tailSize;
    private volatile bool _linkDown;

    public RemoteJobStreams(
        JobStreams local, IJobEventLog log, IRealtimeBroadcaster fanOut, IOptions<RealtimeOptions> options, TimeProvider time,
        ILogger<RemoteJobStreams> logger)
    {
        _local = local;
        _log = log;
        _fanOut = fanOut;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _tailSize = Math.Max(1, _options.ReplayTailSize);
        _filler = new MirrorGapFiller(local, log, _options, time, logger, RemoveLocked);
    }

    /// <summary>Whether messages of jobs run elsewhere reach this node (<c>Realtime:Backplane</c> is not <c>none</c>).</summary>
    public bool Enabled => _options.HasBackplane;

    /// <summary>Messages this node's mirrors took from the event log because the backplane did not bring them (for <c>/metrics</c>).</summary>
    public long FilledFromLog => _filler.FilledFromLog;

    /// <summary>Messages this node's mirrors skipped: not brought by the backplane and not in the log (for <c>/metrics</c>).</summary>
    public long Skipped => _filler.Skipped;

    /// <summary>Whether a subscriber here gets the job's live messages through a mirror: the job is not published by this node.</summary>
    public bool RunsElsewhere(Guid jobId) => Enabled && !_local.PublishesHere(jobId);

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
                if (!_fanOut.HasSubscribers(message.JobId) || _local.PublishesHere(message.JobId))
                {
                    return;
                }

                mirror = _mirrors.GetOrAdd(message.JobId, id => new RemoteJobMirror(id, message.Seq - 1, _tailSize, _fanOut, _time.GetTimestamp()));
            }

            var startFill = false;
            lock (mirror.Gate)
            {
                if (mirror.Removed)
                {
                    continue;
                }

                mirror.LastHeard = _time.GetTimestamp();
                if (message.Seq <= mirror.Tail.LastSeq)
                {
                    return;
                }

                if (!mirror.Filling && message.Seq == mirror.Tail.NextSeq)
                {
                    mirror.DeliverLocked(message.ToOutbound(), message.EndsJob);
                    return;
                }

                mirror.HoldLocked(message);
                if (!mirror.Filling)
                {
                    mirror.Filling = true;
                    startFill = true;
                    LogGap(message.JobId, mirror.Tail.NextSeq, message.Seq - 1);
                }
            }

            if (startFill)
            {
                _filler.Start(mirror);
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
            var mirror = _mirrors.GetOrAdd(jobId, id => new RemoteJobMirror(id, afterSeq, _tailSize, _fanOut, _time.GetTimestamp()));
            lock (mirror.Gate)
            {
                if (mirror.Removed)
                {
                    continue;
                }

                mirror.FollowedAt = _time.GetTimestamp();
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

        var started = _time.GetTimestamp();
        while (true)
        {
            var tail = mirror.Tail;
            var page = new List<OutboundMessage>(Math.Min(limit, 256));
            if (tail.TryRead(afterSeq, limit, page))
            {
                return page;
            }

            // The tail begins after afterSeq: the log holds the ones before it (they were published before it started).
            var stored = await _log.ReadAsync(jobId, afterSeq, limit, cancellationToken).ConfigureAwait(false);
            var contiguous = Contiguous(stored, afterSeq);
            if (contiguous.Count > 0)
            {
                return contiguous;
            }

            if (_time.GetElapsedTime(started) >= _options.BackplaneGapTimeout)
            {
                LogReplayGapSkipped(jobId, afterSeq + 1, _options.BackplaneGapTimeout.TotalSeconds);
                page.Clear();
                tail.TryRead(tail.FirstSeq - 1, limit, page);
                return page;
            }

            await Task.Delay(_filler.LogRetryDelay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The node is stopping: gap fills still waiting for the log give up.</summary>
    public void Stop() => _filler.Stop();

    public void Dispose() => _filler.Dispose();

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
            _filler.RequestCatchUp(mirror);
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

                if (!_fanOut.HasSubscribers(mirror.JobId) && _time.GetElapsedTime(mirror.FollowedAt) >= interval)
                {
                    RemoveLocked(mirror, "no subscriber here follows it");
                    continue;
                }

                ended = mirror.Tail.Ended;
            }

            if (ended)
            {
                var range = await _log.GetRangeAsync(mirror.JobId, cancellationToken).ConfigureAwait(false);
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

            if (_linkDown || _time.GetElapsedTime(Volatile.Read(ref mirror.LastHeard)) >= interval)
            {
                _filler.RequestCatchUp(mirror);
            }
        }
    }

    /// <summary>Drops a mirror (its gate held): a message or follow that finds it removed starts a new one.</summary>
    private void RemoveLocked(RemoteJobMirror mirror, string reason)
    {
        mirror.Removed = true;
        _mirrors.TryRemove(new KeyValuePair<Guid, RemoteJobMirror>(mirror.JobId, mirror));
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: seq {From} to {To} missing from the backplane; filling them from the event log")]
    private partial void LogGap(Guid jobId, long from, long to);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: a resume needs seq {From}, which is not in the event log after {Seconds:F0} s; it goes on from the mirror's tail")]
    private partial void LogReplayGapSkipped(Guid jobId, long from, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane link lost: {Mirrors} mirrored jobs read the event log until it is back")]
    private partial void LogLinkLost(int mirrors);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backplane link restored: {Mirrors} mirrored jobs catch up from the event log")]
    private partial void LogLinkRestored(int mirrors);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}: no longer mirrored at seq {Seq} ({Reason})")]
    private partial void LogStopped(Guid jobId, long seq, string reason);
}
