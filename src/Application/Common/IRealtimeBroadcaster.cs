using CleanRealtime.Application.Realtime;

namespace CleanRealtime.Application.Common;

/// <summary>
/// The fan-out: hands a message, already serialized, to every interested local subscriber's queue. Never waits for any
/// of them.
/// </summary>
public interface IRealtimeBroadcaster
{
    void Publish(PublishedMessage message);
}
