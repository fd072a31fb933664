using CleanRealtime.Application.Realtime;
using System.Threading.Tasks.Sources;

namespace CleanRealtime.Api.Realtime;

public enum EnqueueOutcome
{
    Enqueued,

    /// <summary>Queued, after the oldest droppable message made room.</summary>
    DroppedOldest,

    /// <summary>Full of messages that must not be dropped: the incoming droppable message was dropped.</summary>
    DroppedIncoming,

    /// <summary>Full of messages that must not be dropped, and so is the incoming one: the consumer is too slow.</summary>
    Overflow,

    Closed,
}

/// <summary>
/// One connection's bounded outbound queue (API.md §3.5), drained in order by a single writer. When full, the oldest
/// <c>frame</c>/<c>partial_result</c> makes room; failing that an incoming one is dropped; other messages are never
/// dropped and report <see cref="EnqueueOutcome.Overflow"/> instead.
/// </summary>
/// <remarks>
/// Droppable and other messages wait in two FIFO queues stamped with one sequence, and the reader takes whichever head
/// is older: dropping the oldest frame is O(1), order is kept, and nothing is allocated per message (the queues grow to
/// what the connection really needs, so an idle one stays small). The single reader waits on a reusable value-task
/// source rather than a new task per wake-up.
/// </remarks>
public sealed class OutboundQueue : IValueTaskSource<bool>
{
    private readonly Queue<Entry> _droppable = new();
    private readonly Queue<Entry> _kept = new();
    private readonly Lock _gate = new();
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = true };
    private bool _waiting;
    private bool _completed;
    private int _count;
    private TaskCompletionSource? _roomWaiter;
    private int _roomWanted;
    private long _sequence;
    private long _dropped;

    public OutboundQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Messages waiting (read without a lock: exact when read by the writer, a moment old otherwise).</summary>
    public int Count => Volatile.Read(ref _count);

    public long Dropped => Interlocked.Read(ref _dropped);

    public bool IsCompleted
    {
        get
        {
            lock (_gate)
            {
                return _completed;
            }
        }
    }

    public EnqueueOutcome Enqueue(OutboundMessage message)
    {
        EnqueueOutcome outcome;
        bool wake;
        lock (_gate)
        {
            if (_completed)
            {
                return EnqueueOutcome.Closed;
            }

            outcome = EnqueueOutcome.Enqueued;
            if (_count >= Capacity)
            {
                if (_droppable.Count > 0)
                {
                    _droppable.Dequeue();
                    _dropped++;
                    _count--;
                    outcome = EnqueueOutcome.DroppedOldest;
                }
                else if (message.Type.IsDroppable())
                {
                    _dropped++;
                    return EnqueueOutcome.DroppedIncoming;
                }
                else
                {
                    return EnqueueOutcome.Overflow;
                }
            }

            (message.Type.IsDroppable() ? _droppable : _kept).Enqueue(new Entry(_sequence++, message));
            Volatile.Write(ref _count, _count + 1);
            wake = _waiting;
            _waiting = false;
        }

        if (wake)
        {
            _signal.SetResult(true);
        }

        return outcome;
    }

    public bool TryDequeue(out OutboundMessage message)
    {
        TaskCompletionSource? room = null;
        lock (_gate)
        {
            var hasDroppable = _droppable.TryPeek(out var droppable);
            var hasKept = _kept.TryPeek(out var kept);
            if (!hasDroppable && !hasKept)
            {
                message = default;
                return false;
            }

            message = hasDroppable && (!hasKept || droppable.Sequence < kept.Sequence)
                ? _droppable.Dequeue().Message
                : _kept.Dequeue().Message;
            Volatile.Write(ref _count, _count - 1);
            if (_roomWaiter is not null && Capacity - _count >= _roomWanted)
            {
                (room, _roomWaiter, _roomWanted) = (_roomWaiter, null, 0);
            }
        }

        room?.TrySetResult();
        return true;
    }

    /// <summary>
    /// Completes when at least <paramref name="room"/> messages (at most <see cref="Capacity"/>) fit without dropping any, or
    /// when the queue is completed. For a producer that chooses to wait for this consumer (the benchmark's publisher, like
    /// the reference broadcasters it is compared with): the product's publishing never waits (API.md §3.5) and never
    /// calls this. Lock-free when there is room.
    /// </summary>
    internal ValueTask WaitForRoomAsync(int room)
    {
        room = Math.Clamp(room, 1, Capacity);
        if (Capacity - Volatile.Read(ref _count) >= room)
        {
            return ValueTask.CompletedTask;
        }

        lock (_gate)
        {
            if (_completed || Capacity - _count >= room)
            {
                return ValueTask.CompletedTask;
            }

            _roomWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _roomWanted = Math.Max(_roomWanted, room);
            return new ValueTask(_roomWaiter.Task);
        }
    }

    /// <summary>Waits until a message can be read (true) or the queue is completed and empty (false). One reader only.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_gate)
        {
            if (_count > 0)
            {
                return ValueTask.FromResult(true);
            }

            if (_completed)
            {
                return ValueTask.FromResult(false);
            }

            _signal.Reset();
            _waiting = true;
            return new ValueTask<bool>(this, _signal.Version);
        }
    }

    /// <summary>Takes no more messages; those queued are still read unless <paramref name="discardPending"/>.</summary>
    public void Complete(bool discardPending)
    {
        bool wake;
        bool hasItems;
        TaskCompletionSource? room;
        lock (_gate)
        {
            _completed = true;
            if (discardPending)
            {
                _droppable.Clear();
                _kept.Clear();
                Volatile.Write(ref _count, 0);
            }

            hasItems = _count > 0;
            wake = _waiting;
            _waiting = false;
            (room, _roomWaiter, _roomWanted) = (_roomWaiter, null, 0);
        }

        room?.TrySetResult();
        if (wake)
        {
            _signal.SetResult(hasItems);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);

    private readonly record struct Entry(long Sequence, OutboundMessage Message);
}
