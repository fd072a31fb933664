using CleanRealtime.Application.Realtime;
using System.Net.WebSockets;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// A WebSocket client. Sends go through <see cref="WebSocket"/>'s non-cancellable fast path: a cancellable token makes
/// <c>ManagedWebSocket</c> take its async fallback and register the token on every send, which cost more than the send
/// itself. The writer's token (one per connection: its close timeout) is registered once instead, to abort the socket,
/// which is what <c>ManagedWebSocket</c> does with it too: a pending send then fails and the writer ends.
/// </summary>
public sealed class WebSocketTransport(WebSocket socket) : IRealtimeTransport
{
    // Only the connection's single writer sends, so these need no lock.
    private CancellationToken _registeredToken;
    private CancellationTokenRegistration _abortOnCancel;

    public string Kind => "websocket";

    public bool SupportsPong => true;

    public WebSocket Socket => socket;

    public ValueTask SendAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled && cancellationToken != _registeredToken)
        {
            _abortOnCancel.Dispose();
            _registeredToken = cancellationToken;
            _abortOnCancel = cancellationToken.UnsafeRegister(static s => ((WebSocket)s!).Abort(), socket);
        }

        return cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled(cancellationToken)
            : socket.SendAsync(message.Json.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
    }

    public Task CloseAsync(int code, string reason, CancellationToken cancellationToken) =>
        socket.State is WebSocketState.Open or WebSocketState.CloseReceived
            ? socket.CloseOutputAsync((WebSocketCloseStatus)code, reason, cancellationToken)
            : Task.CompletedTask;

    public void Abort() => socket.Abort();
}
