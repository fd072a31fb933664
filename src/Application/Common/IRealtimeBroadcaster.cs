using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Common;

/// <summary>Hands a message to every interested realtime subscriber. Never waits for any of them.</summary>
public interface IRealtimeBroadcaster
{
    void Publish(RealtimeMessage message);
}
