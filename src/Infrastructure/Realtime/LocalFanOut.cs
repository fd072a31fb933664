using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// The fan-out on one node (SignalR's DefaultHubLifetimeManager): hands the same serialized bytes to the queue of every
/// local subscriber of the message's job (or of every job). Never serializes, never waits. With
/// <c>Realtime:Backplane=redis</c> the <see cref="RedisBackplane"/> sits in front of it and also carries the bytes with
/// their seq to the other nodes.
/// </summary>
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
