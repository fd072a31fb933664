using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// A serialized message: the same UTF-8 bytes are shared by every connection it goes to. <see cref="Seq"/> is the
/// envelope's <c>seq</c> (a message about a job), written again as SSE's <c>id:</c> line and used to meet a replay
/// with the live feed.
/// </summary>
public readonly record struct OutboundMessage(MessageType Type, byte[] Json, long? Seq = null);

/// <summary>
/// A message published to subscribers: the message itself and its bytes, serialized once (SignalR's SerializedHubMessage).
/// <see cref="EndsJob"/> marks a job's last message.
/// </summary>
public readonly record struct PublishedMessage(RealtimeMessage Message, OutboundMessage Outbound, bool EndsJob = false)
{
    /// <summary>The job the message is about, or null: what a <c>job_id</c> subscription filters on.</summary>
    public Guid? JobId => Message.Payload.RoutingJobId;
}
