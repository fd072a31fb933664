namespace CleanRealtime.Domain.Realtime;

/// <summary>The envelope of every realtime message: <c>{ "type", "payload", "timestamp" }</c>.</summary>
public sealed record RealtimeMessage(RealtimePayload Payload, DateTimeOffset Timestamp)
{
    public MessageType Type => Payload.Type;
}
