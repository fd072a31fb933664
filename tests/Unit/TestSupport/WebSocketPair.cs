using System.Net.WebSockets;
using CleanRealtime.Api.Realtime;

namespace CleanRealtime.UnitTests.TestSupport;

/// <summary>
/// A connected server/client pair of real WebSockets (<see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/>)
/// over an in-memory duplex stream: the server side can be handed to production code while the test reads and writes
/// real frames on the client side.
/// </summary>
internal sealed class WebSocketPair : IDisposable
{
    private readonly ByteChannel _toClient;
    private readonly ByteChannel _toServer;

    private WebSocketPair(int clientReceiveWindow)
    {
        _toClient = new ByteChannel(clientReceiveWindow);
        _toServer = new ByteChannel(int.MaxValue);
        // The server writes through a CoalescingStream, as behind Kestrel (CoalescingUpgradeFeature).
        ServerStream = new CoalescingStream(new DuplexStream(_toServer, _toClient));
        Server = WebSocket.CreateFromStream(
            ServerStream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        Client = WebSocket.CreateFromStream(
            new DuplexStream(_toClient, _toServer), new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
    }

    public WebSocket Server { get; }

    /// <summary>The server side's stream, for its <see cref="WebSocketTransport"/>.</summary>
    public CoalescingStream ServerStream { get; }

    public WebSocket Client { get; }

    /// <summary>
    /// Completes once the server had to wait for the client to read, like a sender facing a full TCP window (only
    /// possible with a finite client receive window).
    /// </summary>
    public Task ServerSendBlocked => _toClient.WriterBlocked;

    /// <summary>Bytes the server has written that the client has not read yet.</summary>
    public long UnreadByClient => _toClient.Buffered;

    /// <param name="clientReceiveWindow">
    /// How many unread bytes the client side buffers before the server's sends wait; the default never makes them wait.
    /// A client that never reads, with a small window, is a slow consumer.
    /// </param>
    public static WebSocketPair Create(int clientReceiveWindow = int.MaxValue) => new(clientReceiveWindow);

    /// <summary>Writes bytes to the server as they are, for frames the client WebSocket will not produce.</summary>
    public ValueTask SendRawToServerAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        _toServer.WriteAsync(bytes, cancellationToken);

    /// <summary>The network breaks: every pending and later read or write on either side fails.</summary>
    public void Break()
    {
        var reset = new IOException("Connection reset by peer.");
        _toClient.Fault(reset);
        _toServer.Fault(reset);
    }

    public void Dispose()
    {
        Server.Dispose();
        Client.Dispose();
    }
}
