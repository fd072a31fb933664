using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// The fan-out on one node (SignalR's DefaultHubLifetimeManager): hands the same serialized bytes to the queue of every
/// local subscriber of the message's job (or of every job). Never serializes, never waits.
/// </summary>
/// <remarks>
/// It is the local <see cref="IRealtimeBroadcaster"/> (registered under <see cref="IRealtimeBroadcaster.LocalKey"/>):
/// with <c>Realtime:Backplane=none</c> it is the broadcaster itself; with <c>redis</c> the Redis backplane decorates it
/// (the backplane receives it as its inner broadcaster and also carries the bytes with their seq to the other nodes), so
/// Infrastructure never names this type and this type never knows a backplane exists.
/// </remarks>
public sealed class LocalFanOut(ConnectionStore store) : IRealtimeBroadcaster
{
    private long _published;

    /// <summary>Messages published on this node so far (those of its jobs; not those relayed from other nodes).</summary>
    public long Published => Interlocked.Read(ref _published);

    public void Publish(PublishedMessage message)
    {
        Interlocked.Increment(ref _published);
        EnqueueAll(message.JobId, message.Outbound);
    }

    public void Deliver(Guid jobId, OutboundMessage message) => EnqueueAll(jobId, message);

    public bool HasSubscribers(Guid? jobId) => store.HasSubscribers(jobId);

    private void EnqueueAll(Guid? jobId, OutboundMessage outbound)
    {
        var (primary, followers) = store.Route(jobId);
        foreach (var subscriber in primary)
        {
            subscriber.Enqueue(outbound);
        }

        foreach (var subscriber in followers)
        {
            subscriber.Enqueue(outbound);
        }
    }
}
