using CleanRealtime.Application.Realtime;

namespace CleanRealtime.Application.Common;

/// <summary>
/// The fan-out: hands a message, already serialized, to every interested local subscriber's queue. Never waits for any
/// of them.
/// </summary>
public interface IRealtimeBroadcaster
{
    void Publish(PublishedMessage message);

    /// <summary>
    /// Whether anyone would receive a message about <paramref name="jobId"/> (null: a message about no job) right now;
    /// lets publishers of messages that are not logged skip building them.
    /// </summary>
    bool HasSubscribers(Guid? jobId);
}
