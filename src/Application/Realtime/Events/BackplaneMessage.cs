using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// A job message published on another node, as the backplane carries it: the envelope's bytes, what routes them, and
/// when the publishing node published it (UTC ticks; what the backplane latency is measured from).
/// </summary>
public sealed record BackplaneMessage(string NodeId, Guid JobId, long Seq, MessageType Type, bool EndsJob, byte[] Json, long PublishedAtUtcTicks = 0)
{
    public OutboundMessage ToOutbound() => new(Type, Json, Seq);
}
