using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>A serialized message: the same UTF-8 bytes are shared by every connection it goes to.</summary>
public readonly record struct OutboundMessage(MessageType Type, byte[] Json);
