using CleanRealtime.Application.Realtime;

namespace CleanRealtime.Api.Realtime;

/// <summary>What the <see cref="ReplayGate"/> does with a live job message.</summary>
internal enum GateVerdict
{
    /// <summary>Queue it now.</summary>
    Pass,

    /// <summary>Held aside until the replay has caught up (<see cref="ReplayGate.TryGoLive"/>).</summary>
    Held,

    /// <summary>Its <c>seq</c> was already sent (by the replay or the welcome): skip it.</summary>
    AlreadySent,
}

/// <summary>
/// Where a connection's live job messages meet its replay (API.md §3.8): held while the history is sent, released in
/// <c>seq</c> order after it, and never sent twice.
/// </summary>
/// <remarks>
/// A resuming connection is registered before its history is read, so nothing published from then on is missed: while
/// its writer sends the history, live job messages are held here (compare SignalR's <c>MessageBuffer</c>, which holds
/// messages until the client acknowledges them); when the history is exhausted the held ones with a greater <c>seq</c>
/// are released and the gate opens. No gap, no duplicate. The held list is bounded by the connection's queue capacity:
/// when it overflows it is dropped, and going live fails once so that the writer reads on in the history (which holds
/// everything the held list did). After that, a live message at or below the last <c>seq</c> already sent is skipped:
/// the job's tail is written to the log before its fan-out runs, so the replay may send a message first. The gate is
/// its own type so those rules are tested without a socket; the connection only asks it for a verdict.
/// </remarks>
internal sealed class ReplayGate
{
    private readonly Lock _gate = new();
    private readonly int _capacity;
    private List<OutboundMessage>? _held;
    private bool _overflowed;

    // The last seq sent by the replay or the welcome; 0 when nothing was (every seq is at least 1).
    private long _sentUpTo;

    /// <param name="capacity">At most this many live messages are held (the connection's queue capacity).</param>
    /// <param name="holding">True for a resuming connection: messages are held until <see cref="TryGoLive"/>.</param>
    public ReplayGate(int capacity, bool holding)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _held = holding ? [] : null;
    }

    /// <summary>The verdict on a message about to be queued; a message without <c>seq</c> always passes.</summary>
    public GateVerdict Admit(OutboundMessage message)
    {
        if (message.Seq is not { } seq)
        {
            return GateVerdict.Pass;
        }

        if (Volatile.Read(ref _held) is not null && TryHold(message))
        {
            return GateVerdict.Held;
        }

        return seq <= Volatile.Read(ref _sentUpTo) ? GateVerdict.AlreadySent : GateVerdict.Pass;
    }

    /// <summary>
    /// Records a job message queued ahead of everything (the welcome's last published <c>progress</c>, still on its way
    /// through the fan-out): it is not sent twice. Called before the connection can receive anything.
    /// </summary>
    public void MarkSent(long seq)
    {
        if (seq > Volatile.Read(ref _sentUpTo))
        {
            Volatile.Write(ref _sentUpTo, seq);
        }
    }

    /// <summary>
    /// The history is sent up to <paramref name="lastSeq"/>: hands the held messages after it to
    /// <paramref name="release"/> in order and opens the gate. False when the held list overflowed meanwhile: those at or
    /// below <paramref name="lastSeq"/> are forgotten and the history must be read further first. Messages admitted
    /// meanwhile wait for the release, so they follow the released ones.
    /// </summary>
    public bool TryGoLive(long lastSeq, Action<OutboundMessage> release)
    {
        ArgumentNullException.ThrowIfNull(release);
        lock (_gate)
        {
            if (_held is null)
            {
                return true;
            }

            if (_overflowed)
            {
                _overflowed = false;
                _held.RemoveAll(m => m.Seq <= lastSeq);
                return false;
            }

            foreach (var message in _held)
            {
                if (message.Seq > lastSeq)
                {
                    release(message);
                }
            }

            Volatile.Write(ref _sentUpTo, lastSeq);
            Volatile.Write(ref _held, null);
            return true;
        }
    }

    private bool TryHold(OutboundMessage message)
    {
        lock (_gate)
        {
            if (_held is null)
            {
                return false;
            }

            if (_held.Count >= _capacity)
            {
                // Everything held is in the history too: drop it all and let the writer read further there.
                _held.Clear();
                _overflowed = true;
            }

            _held.Add(message);
            return true;
        }
    }
}
