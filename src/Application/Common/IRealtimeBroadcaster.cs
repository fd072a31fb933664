using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Common;

/// <summary>Hands a message to every interested realtime subscriber. Never waits for any of them.</summary>
public interface IRealtimeBroadcaster
{
    void Publish(RealtimeMessage message);

    /// <summary>
    /// Whether anyone would receive a message about <paramref name="jobId"/> (null: a message about no job) right now;
    /// lets publishers skip building messages nobody listens to.
    /// </summary>
    bool HasSubscribers(Guid? jobId);
}
