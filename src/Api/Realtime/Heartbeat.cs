namespace CleanRealtime.Api.Realtime;

/// <summary>
/// One connection's heartbeat (API.md §3.4): a ping every <c>PingInterval</c>, a pong deadline that restarts with every
/// pong, and the round trip the last answered ping measured.
/// </summary>
/// <remarks>
/// Its own type, like SignalR's per-connection keep-alive, so the timing rules are tested alone on a fake clock and the
/// connection is left with its queue and writer. It sends nothing itself: at each beat it calls the ping action its
/// session gave it (the session serializes the ping and queues it, already serialized, on the connection), and when the
/// deadline passes it calls the overdue action (the session closes the connection with 1001). The welcome ping goes out
/// with the connection, so the heartbeat starts with that ping awaiting its pong: its pong measures a round trip too.
/// A pong that answers no ping measures nothing, so a flood of pongs cannot report a round trip that never happened.
/// </remarks>
internal sealed class Heartbeat : IDisposable
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly TimeSpan? _pongTimeout;
    private readonly Lock _timers = new();
    private ITimer? _beat;
    private ITimer? _pongDeadline;
    private bool _disposed;
    private long _pingAwaitingPong;
    private double _lastRoundTripMs = double.NaN;

    /// <param name="pongTimeout">How long without a pong means the client is gone; null for a transport without pongs (SSE).</param>
    public Heartbeat(TimeProvider time, TimeSpan interval, TimeSpan? pongTimeout)
    {
        _time = time;
        _interval = interval;
        _pongTimeout = pongTimeout;
        _pingAwaitingPong = time.GetTimestamp();
    }

    /// <summary>Round-trip time measured by the last pong that answered a ping, in milliseconds.</summary>
    public double? LastRoundTripMs => double.IsNaN(Volatile.Read(ref _lastRoundTripMs)) ? null : Volatile.Read(ref _lastRoundTripMs);

    /// <summary>Starts the beat and the pong deadline (a heartbeat already disposed stays stopped).</summary>
    public void Start(Action ping, Action pongOverdue)
    {
        ArgumentNullException.ThrowIfNull(ping);
        ArgumentNullException.ThrowIfNull(pongOverdue);
        lock (_timers)
        {
            if (_disposed)
            {
                return;
            }

            _beat = _time.CreateTimer(_ => Beat(ping), null, _interval, _interval);
            if (_pongTimeout is { } timeout)
            {
                _pongDeadline = _time.CreateTimer(_ => pongOverdue(), null, timeout, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>
    /// A pong proves the client is alive (the deadline restarts) and answers the latest ping not answered yet: the round
    /// trip is measured from that ping, once.
    /// </summary>
    public void RecordPong()
    {
        var now = _time.GetTimestamp();
        if (_pongTimeout is { } timeout)
        {
            try
            {
                Volatile.Read(ref _pongDeadline)?.Change(timeout, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // The connection is ending.
            }
        }

        var pingAt = Interlocked.Exchange(ref _pingAwaitingPong, 0);
        if (pingAt != 0)
        {
            Volatile.Write(ref _lastRoundTripMs, _time.GetElapsedTime(pingAt, now).TotalMilliseconds);
        }
    }

    public void Dispose()
    {
        lock (_timers)
        {
            _disposed = true;
            _beat?.Dispose();
            _pongDeadline?.Dispose();
        }
    }

    private void Beat(Action ping)
    {
        Interlocked.Exchange(ref _pingAwaitingPong, _time.GetTimestamp());
        ping();
    }
}
