using CleanRealtime.Application.Realtime;
namespace CleanRealtime.Api.Realtime;

/// <summary>How a connection's writer reaches its client: a WebSocket or a Server-Sent Events response.</summary>
public interface IRealtimeTransport
{
    /// <summary><c>websocket</c> or <c>sse</c>.</summary>
    string Kind { get; }

    /// <summary>Whether the client can answer pings (SSE is one-way, so it is never timed out for a missing pong).</summary>
    bool SupportsPong { get; }

    ValueTask SendAsync(OutboundMessage message, CancellationToken cancellationToken);

    /// <summary>Sends the close (a close frame with <paramref name="code"/>, or the end of the event stream).</summary>
    Task CloseAsync(int code, string reason, CancellationToken cancellationToken);

    /// <summary>Drops the connection at once, without a handshake.</summary>
    void Abort();
}
