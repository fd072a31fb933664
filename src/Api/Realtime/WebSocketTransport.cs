using CleanRealtime.Application.Realtime;
using System.Net.WebSockets;

namespace CleanRealtime.Api.Realtime;

public sealed class WebSocketTransport(WebSocket socket) : IRealtimeTransport
{
    public string Kind => "websocket";

    public bool SupportsPong => true;

    public WebSocket Socket => socket;

    public ValueTask SendAsync(OutboundMessage message, CancellationToken cancellationToken) =>
        socket.SendAsync(message.Json.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    public Task CloseAsync(int code, string reason, CancellationToken cancellationToken) =>
        socket.State is WebSocketState.Open or WebSocketState.CloseReceived
            ? socket.CloseOutputAsync((WebSocketCloseStatus)code, reason, cancellationToken)
            : Task.CompletedTask;

    public void Abort() => socket.Abort();
}
