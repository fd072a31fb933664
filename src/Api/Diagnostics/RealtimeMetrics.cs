using CleanRealtime.Api.Realtime;
using Prometheus;

namespace CleanRealtime.Api.Diagnostics;

/// <summary>
/// The realtime connections' part of <c>GET /metrics</c> (API.md §6): open connections, their queued messages, and the
/// messages published, delivered and dropped on this node. Read from the <see cref="ConnectionStore"/> and the
/// <see cref="LocalFanOut"/> when Prometheus scrapes.
/// </summary>
/// <remarks>
/// These figures live beside the connections they count: Infrastructure's metrics (jobs, event log, backplane) cannot
/// reach the connection store without an Application port that no Application code would use. They are added to the
/// server's one registry, so the scrape is the same text as when Infrastructure reported them: the same names, help
/// and meaning.
/// </remarks>
internal static class RealtimeMetrics
{
    public static void Register(CollectorRegistry registry, ConnectionStore connections, LocalFanOut fanOut)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(connections);
        ArgumentNullException.ThrowIfNull(fanOut);
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        var open = factory.CreateGauge("cleanrealtime_realtime_connections", "Open realtime connections on this node.");
        var queued = factory.CreateGauge("cleanrealtime_outbound_queue_depth", "Messages waiting in the outbound queues of this node's connections.");
        var published = factory.CreateCounter("cleanrealtime_messages_published_total", "Messages published by the jobs running on this node.");
        var delivered = factory.CreateCounter(
            "cleanrealtime_messages_delivered_total", "Messages written to this node's realtime connections (each connection counts once).");
        var dropped = factory.CreateCounter(
            "cleanrealtime_messages_dropped_total", "Messages dropped from the outbound queue of a slow connection on this node (API.md §3.5).");

        registry.AddBeforeCollectCallback(() =>
        {
            var subscribers = connections.Subscribers;
            open.Set(subscribers.Count);
            queued.Set(subscribers.Sum(c => c.QueueDepth));
            published.IncTo(fanOut.Published);
            var (sent, lost) = connections.DeliveryTotals;
            delivered.IncTo(sent);
            dropped.IncTo(lost);
        });
    }
}
