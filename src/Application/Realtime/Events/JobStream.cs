using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// One running job's stream: its <c>seq</c> counter and the last <c>capacity</c> messages it published, as sent. Only
/// the job's runner adds to it (one publisher, so the counter needs no global lock); readers copy from the tail under
/// the stream's own lock. A mirror of a job that runs on another node (<see cref="RemoteJobStreams"/>) starts after the
/// <c>seq</c> it began to follow at.
/// </summary>
internal sealed class JobStream
{
    private readonly OutboundMessage[] _tail;
    private readonly Lock _gate = new();
    private readonly long _firstSeq;
    private long _lastSeq;
    private OutboundMessage? _lastProgress;
    private bool _ended;

    public JobStream(Guid jobId, int capacity, long startAfter = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(startAfter);
        JobId = jobId;
        _tail = new OutboundMessage[capacity];
        _firstSeq = startAfter + 1;
        _lastSeq = startAfter;
    }

    public Guid JobId { get; }

    /// <summary>The <c>seq</c> of the last message published, 0 before the first.</summary>
    public long LastSeq => Volatile.Read(ref _lastSeq);

    /// <summary>The first <c>seq</c> the tail still holds (<see cref="NextSeq"/> when it holds none).</summary>
    public long FirstSeq
    {
        get
        {
            lock (_gate)
            {
                return Math.Max(_firstSeq, _lastSeq - _tail.Length + 1);
            }
        }
    }

    /// <summary>
    /// The highest <c>seq</c> the job's publisher may hand out before it records a new reservation
    /// (<see cref="Common.ISeqReservations.ReserveAsync"/>); only the publisher reads and sets it.
    /// </summary>
    internal long ReservedThrough { get; set; }

    /// <summary>The <c>seq</c> the next message gets.</summary>
    public long NextSeq => LastSeq + 1;

    /// <summary>The last <c>progress</c> message published (what a new subscriber without <c>since</c> is shown).</summary>
    public OutboundMessage? LastProgress
    {
        get
        {
            lock (_gate)
            {
                return _lastProgress;
            }
        }
    }

    /// <summary>Whether the job's last message has been published.</summary>
    public bool Ended => Volatile.Read(ref _ended);

    /// <summary>Records the message numbered <see cref="NextSeq"/>; <paramref name="endsJob"/> for the job's last one.</summary>
    public void Add(OutboundMessage message, bool endsJob = false)
    {
        lock (_gate)
        {
            var seq = _lastSeq + 1;
            if (message.Seq != seq)
            {
                throw new ArgumentException($"The next message of job {JobId} is {seq}, not {message.Seq}.", nameof(message));
            }

            _tail[(seq - 1) % _tail.Length] = message;
            if (message.Type == MessageType.Progress)
            {
                _lastProgress = message;
            }

            Volatile.Write(ref _lastSeq, seq);
            Volatile.Write(ref _ended, endsJob);
        }
    }

    /// <summary>
    /// Copies the messages after <paramref name="afterSeq"/> (at most <paramref name="limit"/>) into <paramref name="page"/>.
    /// False when the tail no longer holds the message right after <paramref name="afterSeq"/>.
    /// </summary>
    public bool TryRead(long afterSeq, int limit, List<OutboundMessage> page)
    {
        ArgumentNullException.ThrowIfNull(page);
        lock (_gate)
        {
            var first = Math.Max(_firstSeq, _lastSeq - _tail.Length + 1);
            if (afterSeq >= _lastSeq)
            {
                return true;
            }

            if (afterSeq + 1 < first)
            {
                return false;
            }

            for (var seq = afterSeq + 1; seq <= _lastSeq && page.Count < limit; seq++)
            {
                page.Add(_tail[(seq - 1) % _tail.Length]);
            }

            return true;
        }
    }
}
