using CleanRealtime.Application.Common;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// One job that runs on another node, mirrored here: its tail (what resumes read from), the messages held behind a gap,
/// and the highest <c>seq</c> known to exist. Delivers to the local fan-out in <c>seq</c> order, each message once.
/// </summary>
/// <remarks>
/// Two writers share it, the live feed (<see cref="RemoteJobStreams"/>) and the event log (<see cref="MirrorGapFiller"/>),
/// so its state and the steps that keep "in order, once" true (deliver, deliver what was held, skip a gap) live here,
/// in one place, under one lock. Every member is read and changed under <see cref="Gate"/>, except
/// <see cref="LastHeard"/> (written under it, read by the sweep with <see cref="Volatile"/>). The "…Locked" methods
/// expect the caller to hold <see cref="Gate"/>.
/// </remarks>
internal sealed class RemoteJobMirror
{
    // Messages held behind a gap; past this they are dropped (the log holds them) and read from the log instead.
    private const int MaxPending = 10_000;

    private readonly int _tailSize;
    private readonly IRealtimeBroadcaster _fanOut;

    public readonly Lock Gate = new();
    public readonly SortedDictionary<long, BackplaneMessage> Pending = [];
    public long LastHeard;

    public RemoteJobMirror(Guid jobId, long startAfter, int tailSize, IRealtimeBroadcaster fanOut, long now)
    {
        JobId = jobId;
        _tailSize = tailSize;
        _fanOut = fanOut;
        LastHeard = now;
        FollowedAt = now;
        Tail = new JobStream(jobId, tailSize, startAfter);
        HighestSeen = startAfter;
    }

    public Guid JobId { get; }

    /// <summary>Replaced (never changed in place by anyone but the holder of <see cref="Gate"/>) when a gap is skipped.</summary>
    public JobStream Tail { get; private set; }

    /// <summary>The highest <c>seq</c> known to exist: every one up to it must be delivered.</summary>
    public long HighestSeen { get; set; }

    /// <summary>A fill from the event log runs: it is the only one that delivers, live messages are held.</summary>
    public bool Filling { get; set; }

    /// <summary>The running fill reads the log on until it has nothing new (not only up to <see cref="HighestSeen"/>).</summary>
    public bool CatchUp { get; set; }

    public bool Removed { get; set; }

    public long FollowedAt { get; set; }

    /// <summary>The tail first, then the fan-out: a resume that read the tail meets the live feed on <c>seq</c>.</summary>
    public void DeliverLocked(OutboundMessage message, bool endsJob)
    {
        Tail.Add(message, endsJob);
        HighestSeen = Math.Max(HighestSeen, Tail.LastSeq);
        _fanOut.Deliver(JobId, message);
    }

    /// <summary>Holds a live message that arrived behind a gap (all held ones are dropped past <see cref="MaxPending"/>).</summary>
    public void HoldLocked(BackplaneMessage message)
    {
        HighestSeen = Math.Max(HighestSeen, message.Seq);
        if (Pending.Count >= MaxPending)
        {
            Pending.Clear();
        }

        Pending[message.Seq] = message;
    }

    /// <summary>Delivers the held messages that follow on without a gap; drops those already delivered.</summary>
    public long DeliverHeldLocked()
    {
        long delivered = 0;
        while (Pending.Count > 0)
        {
            var (seq, held) = Pending.First();
            if (seq > Tail.NextSeq)
            {
                break;
            }

            Pending.Remove(seq);
            if (seq == Tail.NextSeq)
            {
                DeliverLocked(held.ToOutbound(), held.EndsJob);
                delivered++;
            }
        }

        return delivered;
    }

    /// <summary>Gives up the <c>seq</c>s up to <paramref name="resumeAt"/>: the tail starts again after it.</summary>
    public void SkipToLocked(long resumeAt) => Tail = new JobStream(JobId, _tailSize, resumeAt);
}
