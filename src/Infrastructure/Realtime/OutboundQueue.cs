using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Infrastructure.Realtime;

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
public sealed class OutboundQueue
{
    private readonly LinkedList<OutboundMessage> _items = new();
    private readonly Queue<LinkedListNode<OutboundMessage>> _droppable = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource<bool>? _waiter;
    private bool _completed;
    private long _dropped;

    public OutboundQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _items.Count;
            }
        }
    }

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
        TaskCompletionSource<bool>? wake;
        EnqueueOutcome outcome;
        lock (_gate)
        {
            if (_completed)
            {
                return EnqueueOutcome.Closed;
            }

            outcome = EnqueueOutcome.Enqueued;
            if (_items.Count >= Capacity)
            {
                if (_droppable.Count > 0)
                {
                    _items.Remove(_droppable.Dequeue());
                    _dropped++;
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

            var node = _items.AddLast(message);
            if (message.Type.IsDroppable())
            {
                _droppable.Enqueue(node);
            }

            wake = _waiter;
            _waiter = null;
        }

        wake?.TrySetResult(true);
        return outcome;
    }

    public bool TryDequeue(out OutboundMessage message)
    {
        lock (_gate)
        {
            var first = _items.First;
            if (first is null)
            {
                message = default;
                return false;
            }

            _items.RemoveFirst();
            if (_droppable.Count > 0 && ReferenceEquals(_droppable.Peek(), first))
            {
                _droppable.Dequeue();
            }

            message = first.Value;
            return true;
        }
    }

    /// <summary>Waits until a message can be read (true) or the queue is completed and empty (false).</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_gate)
        {
            if (_items.Count > 0)
            {
                return ValueTask.FromResult(true);
            }

            if (_completed)
            {
                return ValueTask.FromResult(false);
            }

            _waiter ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            return new ValueTask<bool>(_waiter.Task);
        }
    }

    /// <summary>Takes no more messages; those queued are still read unless <paramref name="discardPending"/>.</summary>
    public void Complete(bool discardPending)
    {
        TaskCompletionSource<bool>? wake;
        bool hasItems;
        lock (_gate)
        {
            _completed = true;
            if (discardPending)
            {
                _items.Clear();
                _droppable.Clear();
            }

            hasItems = _items.Count > 0;
            wake = _waiter;
            _waiter = null;
        }

        wake?.TrySetResult(hasItems);
    }
}
