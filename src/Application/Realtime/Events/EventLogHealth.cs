namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// What the event log's writes and replays have gone through, for <c>/health/ready</c> and <c>/metrics</c>: whether
/// writes are failing now (since when, with what), how many messages could not be kept after every retry, and how many
/// times a replay told a client about messages that are missing (API.md §3.8, "never silent").
/// </summary>
public sealed class EventLogHealth(TimeProvider time)
{
    private readonly Lock _gate = new();
    private long _lost;
    private long _gapsReported;
    private long _writeFailures;
    private volatile bool _failing;
    private DateTimeOffset? _failingSince;
    private string? _lastError;

    /// <summary>Messages published but not stored after every retry (they cannot be replayed).</summary>
    public long MessagesLost => Interlocked.Read(ref _lost);

    /// <summary>Replays (realtime resume or <c>GET …/events</c>) that met missing messages and said so.</summary>
    public long GapsReported => Interlocked.Read(ref _gapsReported);

    /// <summary>Failed attempts to write a batch (each retry counts).</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>When writes started failing, and the last error, while the last attempt failed; null once one succeeds.</summary>
    public (DateTimeOffset Since, string Error)? Failing
    {
        get
        {
            lock (_gate)
            {
                return _failingSince is { } since ? (since, _lastError ?? "") : null;
            }
        }
    }

    internal void WriteFailed(Exception exception)
    {
        Interlocked.Increment(ref _writeFailures);
        lock (_gate)
        {
            _failingSince ??= time.GetUtcNow();
            _failing = true;
            _lastError = $"{exception.GetType().Name}: {exception.Message}";
        }
    }

    internal void WriteSucceeded()
    {
        if (!_failing)
        {
            return;
        }

        lock (_gate)
        {
            _failing = false;
            _failingSince = null;
            _lastError = null;
        }
    }

    internal void Lost(int count) => Interlocked.Add(ref _lost, count);

    internal void GapReported() => Interlocked.Increment(ref _gapsReported);
}
