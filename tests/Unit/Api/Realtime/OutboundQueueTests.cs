using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>API.md §3.5: one connection's bounded queue and its drop policy.</summary>
public sealed class OutboundQueueTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    private int _sequence;

    [Fact]
    public void Enqueue_UnderCapacity_KeepsEverythingInOrder()
    {
        var queue = new OutboundQueue(10);
        var sent = new[] { Make(MessageType.Progress), Make(MessageType.Frame), Make(MessageType.Error), Make(MessageType.PartialResult) };

        Assert.All(sent, m => Assert.Equal(EnqueueOutcome.Enqueued, queue.Enqueue(m)));

        Assert.Equal(4, queue.Count);
        Assert.Equal(sent, Drain(queue));
        Assert.Equal(0, queue.Dropped);
    }

    [Fact]
    public void Enqueue_WhenFull_DropsTheOldestDroppableFirst()
    {
        var queue = new OutboundQueue(4);
        var progress = Make(MessageType.Progress);
        var frame1 = Make(MessageType.Frame);
        var partial = Make(MessageType.PartialResult);
        var frame2 = Make(MessageType.Frame);
        foreach (var m in new[] { progress, frame1, partial, frame2 })
        {
            queue.Enqueue(m);
        }

        var error = Make(MessageType.Error);
        var frame3 = Make(MessageType.Frame);
        Assert.Equal(EnqueueOutcome.DroppedOldest, queue.Enqueue(error));
        Assert.Equal(EnqueueOutcome.DroppedOldest, queue.Enqueue(frame3));

        Assert.Equal(2, queue.Dropped);
        Assert.Equal(4, queue.Count);
        Assert.Equal([progress, frame2, error, frame3], Drain(queue));
    }

    [Fact]
    public void Enqueue_WhenFullAfterReads_StillDropsTheOldestDroppableStillQueued()
    {
        var queue = new OutboundQueue(3);
        var frame1 = Make(MessageType.Frame);
        var frame2 = Make(MessageType.Frame);
        var status = Make(MessageType.PluginStatus);
        queue.Enqueue(frame1);
        queue.Enqueue(frame2);
        queue.Enqueue(status);
        Assert.True(queue.TryDequeue(out var first));
        Assert.Equal(frame1, first);
        var frame3 = Make(MessageType.Frame);
        queue.Enqueue(frame3);

        var warning = Make(MessageType.Warning);
        Assert.Equal(EnqueueOutcome.DroppedOldest, queue.Enqueue(warning));

        Assert.Equal([status, frame3, warning], Drain(queue));
    }

    [Fact]
    public void Enqueue_WhenFullOfNonDroppables_DropsTheIncomingDroppable()
    {
        var queue = new OutboundQueue(2);
        var progress = Make(MessageType.Progress);
        var error = Make(MessageType.Error);
        queue.Enqueue(progress);
        queue.Enqueue(error);

        Assert.Equal(EnqueueOutcome.DroppedIncoming, queue.Enqueue(Make(MessageType.Frame)));
        Assert.Equal(EnqueueOutcome.DroppedIncoming, queue.Enqueue(Make(MessageType.PartialResult)));

        Assert.Equal(2, queue.Dropped);
        Assert.Equal([progress, error], Drain(queue));
    }

    [Theory]
    [InlineData(MessageType.Metadata)]
    [InlineData(MessageType.Progress)]
    [InlineData(MessageType.PluginStatus)]
    [InlineData(MessageType.Warning)]
    [InlineData(MessageType.Error)]
    [InlineData(MessageType.Ping)]
    public void Enqueue_NonDroppableWhenFullOfNonDroppables_IsOverflowAndNothingIsLost(MessageType type)
    {
        var queue = new OutboundQueue(2);
        var kept = new[] { Make(MessageType.Error), Make(MessageType.Error) };
        queue.Enqueue(kept[0]);
        queue.Enqueue(kept[1]);

        Assert.Equal(EnqueueOutcome.Overflow, queue.Enqueue(Make(type)));

        Assert.Equal(0, queue.Dropped);
        Assert.Equal(kept, Drain(queue));
    }

    [Fact]
    public void Enqueue_Errors_AreNeverDropped()
    {
        var queue = new OutboundQueue(3);
        var errors = new List<OutboundMessage>();
        for (var i = 0; i < 3; i++)
        {
            var error = Make(MessageType.Error);
            errors.Add(error);
            queue.Enqueue(error);
            queue.Enqueue(Make(MessageType.Frame));
        }

        Assert.Equal(EnqueueOutcome.DroppedIncoming, queue.Enqueue(Make(MessageType.Frame)));
        Assert.Equal(EnqueueOutcome.Overflow, queue.Enqueue(Make(MessageType.Error)));
        Assert.Equal(errors, Drain(queue));
        Assert.False(MessageType.Error.IsDroppable());
    }

    [Fact]
    public void Enqueue_AfterComplete_IsClosed()
    {
        var queue = new OutboundQueue(2);
        queue.Complete(discardPending: false);

        Assert.Equal(EnqueueOutcome.Closed, queue.Enqueue(Make(MessageType.Progress)));
        Assert.Equal(0, queue.Count);
        Assert.True(queue.IsCompleted);
    }

    [Fact]
    public async Task Complete_WithoutDiscard_LetsTheReaderDrainThenEnds()
    {
        var queue = new OutboundQueue(5);
        var a = Make(MessageType.Progress);
        var b = Make(MessageType.Frame);
        queue.Enqueue(a);
        queue.Enqueue(b);

        queue.Complete(discardPending: false);

        Assert.True(await queue.WaitToReadAsync());
        Assert.Equal([a, b], Drain(queue));
        Assert.False(await queue.WaitToReadAsync());
    }

    [Fact]
    public async Task Complete_WithDiscard_DropsWhatIsQueuedAndEnds()
    {
        var queue = new OutboundQueue(5);
        queue.Enqueue(Make(MessageType.Progress));
        queue.Enqueue(Make(MessageType.Frame));

        queue.Complete(discardPending: true);

        Assert.Equal(0, queue.Count);
        Assert.False(queue.TryDequeue(out _));
        Assert.False(await queue.WaitToReadAsync());
    }

    [Fact]
    public async Task WaitToReadAsync_OnAnEmptyQueue_WakesUpWhenAMessageArrives()
    {
        var queue = new OutboundQueue(5);
        var waiting = queue.WaitToReadAsync().AsTask();
        Assert.False(waiting.IsCompleted);

        var message = Make(MessageType.Ping);
        queue.Enqueue(message);

        Assert.True(await waiting.WaitAsync(Bound));
        Assert.True(queue.TryDequeue(out var read));
        Assert.Equal(message, read);
    }

    [Fact]
    public async Task WaitToReadAsync_OnAnEmptyQueue_EndsWhenCompleted()
    {
        var queue = new OutboundQueue(5);
        var waiting = queue.WaitToReadAsync().AsTask();
        Assert.False(waiting.IsCompleted);

        queue.Complete(discardPending: false);

        Assert.False(await waiting.WaitAsync(Bound));
    }

    [Fact]
    public void WaitForRoomAsync_WithRoom_CompletesAtOnce()
    {
        var queue = new OutboundQueue(4);
        queue.Enqueue(Make(MessageType.Frame));
        queue.Enqueue(Make(MessageType.Frame));

        Assert.True(queue.WaitForRoomAsync(2).AsTask().IsCompletedSuccessfully);
        Assert.False(queue.WaitForRoomAsync(100).AsTask().IsCompleted); // at most Capacity (4) is asked: 2 are free
    }

    [Fact]
    public async Task WaitForRoomAsync_WhenFull_CompletesOnceEnoughIsRead_AndNothingIsDropped()
    {
        var queue = new OutboundQueue(3);
        var sent = new[] { Make(MessageType.Frame), Make(MessageType.Frame), Make(MessageType.Frame) };
        foreach (var m in sent)
        {
            queue.Enqueue(m);
        }

        var room = queue.WaitForRoomAsync(2).AsTask();
        Assert.True(queue.TryDequeue(out _));
        Assert.False(room.IsCompleted);

        Assert.True(queue.TryDequeue(out _));
        await room.WaitAsync(Bound);
        Assert.Equal(0, queue.Dropped);
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public async Task WaitForRoomAsync_WhenCompleted_CompletesWithoutRoom()
    {
        var queue = new OutboundQueue(1);
        queue.Enqueue(Make(MessageType.Frame));
        var room = queue.WaitForRoomAsync(1).AsTask();
        Assert.False(room.IsCompleted);

        queue.Complete(discardPending: false);

        await room.WaitAsync(Bound);
        Assert.True(queue.WaitForRoomAsync(1).AsTask().IsCompletedSuccessfully);
    }

    [Fact]
    public void Count_FollowsEnqueueDropAndDequeue()
    {
        var queue = new OutboundQueue(2);
        queue.Enqueue(Make(MessageType.Frame));
        queue.Enqueue(Make(MessageType.Frame));
        queue.Enqueue(Make(MessageType.Frame));
        Assert.Equal(2, queue.Count);

        queue.TryDequeue(out _);
        Assert.Equal(1, queue.Count);

        queue.Complete(discardPending: true);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Constructor_CapacityBelowOne_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OutboundQueue(0));
    }

    private static List<OutboundMessage> Drain(OutboundQueue queue)
    {
        var read = new List<OutboundMessage>();
        while (queue.TryDequeue(out var message))
        {
            read.Add(message);
        }

        return read;
    }

    /// <summary>A message of <paramref name="type"/> with its own bytes, so each one is told apart by reference.</summary>
    private OutboundMessage Make(MessageType type) => new(type, [(byte)++_sequence]);
}
