namespace CleanRealtime.Domain.Realtime;

/// <summary>
/// The envelope of every realtime message: <c>{ "type", "payload", "timestamp" }</c>, plus <c>seq</c> on a message
/// about a job (API.md §3.8): its place in the job's stream, given once when the job's publisher publishes it.
/// </summary>
public sealed record RealtimeMessage(RealtimePayload Payload, DateTimeOffset Timestamp, long? Seq = null)
{
    public MessageType Type => Payload.Type;
}
