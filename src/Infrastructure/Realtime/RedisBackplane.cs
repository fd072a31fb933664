using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// The fan-out with <c>Realtime:Backplane=redis</c> (SignalR's RedisHubLifetimeManager): a message published here goes
/// to this node's subscribers through the local broadcaster it decorates (<see cref="IRealtimeBroadcaster.LocalKey"/>,
/// registered by the Api beside its sessions) and is queued for the other nodes; the publisher never waits for Redis.
/// </summary>
internal sealed class RedisBackplane(
    [FromKeyedServices(IRealtimeBroadcaster.LocalKey)] IRealtimeBroadcaster local, BackplaneOutbox outbox) : IRealtimeBroadcaster
{
    public void Publish(PublishedMessage message)
    {
        local.Publish(message);
        if (message.JobId is { } jobId && message.Outbound.Seq is { } seq)
        {
            outbox.Enqueue(jobId, seq, message.Outbound, message.EndsJob);
        }
    }

    public void Deliver(Guid jobId, OutboundMessage message) => local.Deliver(jobId, message);

    public bool HasSubscribers(Guid? jobId) => local.HasSubscribers(jobId);
}
