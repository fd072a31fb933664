using CleanRealtime.Application.Realtime;
using System.Net.WebSockets;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// A WebSocket client. Sends go through <see cref="WebSocket"/>'s non-cancellable fast path: a cancellable token makes
/// <c>ManagedWebSocket</c> take its async fallback and register the token on every send, which cost more than the send
/// itself. The writer's token (one per connection: its close timeout) is registered once instead, to abort the socket,
/// which is what <c>ManagedWebSocket</c> does with it too: a pending send then fails and the writer ends.
/// A run of messages (sends with <c>more</c>) is held by the upgraded connection's <see cref="CoalescingStream"/> and
/// written as one when the run ends; without that stream (an HTTP/2 WebSocket) every message is written on its own.
/// </summary>
public sealed class WebSocketTransport(WebSocket socket, CoalescingStream? stream = null) : IRealtimeTransport
{
    // Only the connection's single writer sends, so these need no lock.
    private CancellationToken _registeredToken;
    private CancellationTokenRegistration _abortOnCancel;

    public string Kind => "websocket";

    public bool SupportsPong => true;

    public ValueTask SendAsync(OutboundMessage message, bool more, CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled && cancellationToken != _registeredToken)
        {
            _abortOnCancel.Dispose();
            _registeredToken = cancellationToken;
            _abortOnCancel = cancellationToken.UnsafeRegister(static s => ((WebSocket)s!).Abort(), socket);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (more)
        {
            stream?.Hold();
        }

        var sending = socket.SendAsync(message.Json.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        return more || stream is not { IsHolding: true } ? sending : SendThenReleaseAsync(sending, cancellationToken);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) =>
        stream is { IsHolding: true } ? stream.ReleaseAsync(cancellationToken) : ValueTask.CompletedTask;

    public async Task CloseAsync(int code, string reason, CancellationToken cancellationToken)
    {
        // The close frame must not join a run that nobody releases any more.
        await FlushAsync(cancellationToken);
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await socket.CloseOutputAsync((WebSocketCloseStatus)code, reason, cancellationToken);
        }
    }

    public void Abort() => socket.Abort();

    private async ValueTask SendThenReleaseAsync(ValueTask sending, CancellationToken cancellationToken)
    {
        await sending;
        await stream!.ReleaseAsync(cancellationToken);
    }
}
