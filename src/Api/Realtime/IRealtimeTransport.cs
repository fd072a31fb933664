using CleanRealtime.Application.Realtime;
namespace CleanRealtime.Api.Realtime;

/// <summary>How a connection's writer reaches its client: a WebSocket or a Server-Sent Events response.</summary>
public interface IRealtimeTransport
{
    /// <summary><c>websocket</c> or <c>sse</c>.</summary>
    string Kind { get; }

    /// <summary>Whether the client can answer pings (SSE is one-way, so it is never timed out for a missing pong).</summary>
    bool SupportsPong { get; }

    /// <summary>
    /// Sends a message. <paramref name="more"/>: the writer has more messages ready and sends them next, so the transport
    /// may hold this one and write the run together (a bounded amount); a send without <paramref name="more"/>, or
    /// <see cref="FlushAsync"/>, writes everything held.
    /// </summary>
    ValueTask SendAsync(OutboundMessage message, bool more, CancellationToken cancellationToken);

    /// <summary>Writes whatever earlier sends with <c>more</c> left held (nothing to do when none is).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>Sends the close (a close frame with <paramref name="code"/>, or the end of the event stream).</summary>
    Task CloseAsync(int code, string reason, CancellationToken cancellationToken);

    /// <summary>Drops the connection at once, without a handshake.</summary>
    void Abort();
}
