using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// The fan-out on one node (SignalR's DefaultHubLifetimeManager): hands the same serialized bytes to the queue of every
/// local subscriber of the message's job (or of every job). Never serializes, never waits. A backplane (Redis) would
/// sit behind this seam and carry the bytes with their seq to the other nodes.
/// </summary>
public sealed class LocalFanOut(ConnectionStore store) : IRealtimeBroadcaster
{
    public void Publish(PublishedMessage message)
    {
        var (primary, followers) = store.Route(message.JobId);
        var outbound = message.Outbound;
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
