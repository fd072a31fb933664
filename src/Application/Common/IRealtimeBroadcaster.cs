using CleanRealtime.Application.Realtime;

namespace CleanRealtime.Application.Common;

/// <summary>
/// The fan-out: hands a message, already serialized, to every interested local subscriber's queue, and (with a backplane)
/// to the other nodes. Never waits for any of them.
/// </summary>
public interface IRealtimeBroadcaster
{
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
