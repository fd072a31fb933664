using CleanRealtime.Application.Realtime;

namespace CleanRealtime.Application.Common;

/// <summary>
/// The fan-out: hands a message, already serialized, to every interested local subscriber's queue, and (with a backplane)
/// to the other nodes. Never waits for any of them.
/// </summary>
/// <remarks>
/// Two implementations stack: the local one, beside the sessions that own the subscribers, registered under
/// <see cref="LocalKey"/>; and, with a backplane, one that decorates it (it receives the local one as its inner
/// broadcaster). Whichever is outermost is the <see cref="IRealtimeBroadcaster"/> everyone else is given.
/// </remarks>
public interface IRealtimeBroadcaster
{
    /// <summary>The service key of this node's own fan-out: what a backplane hands local deliveries to.</summary>
    const string LocalKey = "local";

    /// <summary>A message published on this node: to this node's subscribers and, with a backplane, to every other node.</summary>
    void Publish(PublishedMessage message);

    /// <summary>A message of a job published on another node (already in <c>seq</c> order): to this node's subscribers only.</summary>
    void Deliver(Guid jobId, OutboundMessage message);

    /// <summary>
    /// Whether anyone would receive a message about <paramref name="jobId"/> (null: a message about no job) right now;
    /// what the backplane asks before it mirrors a job run on another node.
    /// </summary>
    bool HasSubscribers(Guid? jobId);
}
