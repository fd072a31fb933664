using System.Buffers;
using System.Net.WebSockets;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// Reads what a WebSocket client sends until the connection ends: pongs are recorded, anything else is answered with an
/// <c>error</c> message and the connection stays open; a message over the size limit closes it with 1009, a binary one
/// with 1003; the client's close is answered to complete the handshake; a broken socket aborts the connection.
/// </summary>
public static class WebSocketReceiver
{
    public static async Task RunAsync(RealtimeSessions manager, Connection connection, WebSocket socket, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(socket);
        var limit = manager.Options.MaxClientMessageBytes;
        try
        {
            while (!connection.Completion.IsCompleted)
            {
                // Wait for the next message without holding a buffer (a zero-byte receive): an idle connection keeps
                // no receive memory; a pooled buffer is rented only while a message is being read.
                var result = await socket.ReceiveAsync(Memory<byte>.Empty, cancellationToken);
                var buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
                try
                {
                    var length = 0;
                    while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close && length <= limit)
                    {
                        result = await socket.ReceiveAsync(buffer.AsMemory(length, limit + 1 - length), cancellationToken);
                        length += result.Count;
                    }

                    switch (result.MessageType)
                    {
                        case WebSocketMessageType.Close:
                            // Echo the client's code to complete the handshake (1000 when it sent none).
                            connection.RequestClose((int)(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure), "closed by the client", drain: false);
                            return;
                        case WebSocketMessageType.Binary:
                            connection.RequestClose(1003, "binary messages are not supported; send JSON text", drain: false);
                            await DrainUntilClosedAsync(connection, socket, manager.Options.CloseTimeout);
                            return;
                        default:
                            if (length > limit)
                            {
                                connection.RequestClose(1009, $"message larger than {limit} bytes", drain: false);
                                await DrainUntilClosedAsync(connection, socket, manager.Options.CloseTimeout);
                                return;
                            }

                            Handle(manager, connection, buffer.AsSpan(0, length));
                            break;
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Also the path of protocol errors the WebSocket handles itself (invalid UTF-8: it sends 1007 and aborts).
            connection.Abort($"receive failed: {ex.Message}");
        }
    }

    private static void Handle(RealtimeSessions manager, Connection connection, ReadOnlySpan<byte> message)
    {
        var parsed = ClientMessageParser.Parse(message);
        if (parsed.Pong is not null)
        {
            connection.RecordPong();
            return;
        }

        manager.Send(connection, new ErrorPayload(parsed.Error!, Details: new ErrorDetails(parsed.ErrorCode!, parsed.Error!)));
    }

    /// <summary>After the server's close frame, read (and ignore) until the client's close arrives or time runs out.</summary>
    private static async Task DrainUntilClosedAsync(Connection connection, WebSocket socket, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var scratch = new byte[1024];
        try
        {
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await socket.ReceiveAsync(scratch.AsMemory(), deadline.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            connection.Abort("the client did not complete the close handshake");
        }
    }
}
