namespace CleanRealtime.Application.Realtime.Connections;

/// <summary>
/// One open realtime connection as the store and the fan-out see it: what it subscribes to, who opened it, and its
/// queue. The fan-out only enqueues; the connection's own session sends.
/// </summary>
public interface IRealtimeSubscriber
{
    Guid Id { get; }

    /// <summary>The one job this connection follows, or null for every job.</summary>
    Guid? JobId { get; }

    Guid? SessionId { get; }

    /// <summary>Who opened it (the verified API key, else the client address): what the per-client limit counts.</summary>
    string? Client { get; }

    /// <summary>Messages waiting in its outbound queue.</summary>
    int QueueDepth { get; }

    /// <summary>Messages written to its transport so far.</summary>
    long Sent { get; }

    /// <summary>Messages its queue dropped so far (API.md §3.5).</summary>
    long Dropped { get; }

    /// <summary>Queues a message already serialized; never waits.</summary>
    bool Enqueue(OutboundMessage message);
}

/// <summary>
/// The store of this node's open connections and their subscriptions (SignalR's HubConnectionStore): admission
/// within the limits of API.md §3.1, and the index the fan-out reads without a lock.
/// </summary>
public interface IConnectionStore
{
    int Count { get; }

    IReadOnlyList<IRealtimeSubscriber> Subscribers { get; }

    /// <summary>Admits a subscriber, or says why not (the reason of a 4001 refusal).</summary>
    string? TryAdd(IRealtimeSubscriber subscriber);

    /// <summary>Forgets a subscriber that has ended (idempotent).</summary>
    void Remove(IRealtimeSubscriber subscriber);

    bool Contains(Guid subscriberId);

    /// <summary>Messages sent to and dropped by every connection of this node since it started, closed ones included.</summary>
    (long Sent, long Dropped) DeliveryTotals { get; }
}
