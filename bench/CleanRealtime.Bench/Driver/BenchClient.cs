using System.Diagnostics;
using System.Net.WebSockets;
using CleanRealtime.Bench.Wire;

namespace CleanRealtime.Bench.Driver;

/// <summary>
/// One realtime client of the driver: a <see cref="ClientWebSocket"/> and a receive loop that counts the frames of the
/// current step and records their latency (receive time minus the publisher's Stopwatch timestamp in the frame id).
/// The welcome (<c>metadata</c> messages, then a <c>ping</c>) is skipped; the <c>ping</c> marks the client as ready.
/// </summary>
internal sealed class BenchClient : IAsyncDisposable
{
    private const int MaxMessageBytes = 1 << 20;

    private readonly ClientWebSocket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _welcomed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[] _buffer;
    private RunState? _run;
    private Task _receiving = Task.CompletedTask;

    private BenchClient(ClientWebSocket socket, int bufferBytes)
    {
        _socket = socket;
        _buffer = new byte[bufferBytes];
    }

    /// <summary>Completes when the server's welcome ping has arrived.</summary>
    public Task Welcomed => _welcomed.Task;

    public static async Task<BenchClient> ConnectAsync(Uri uri, int bufferBytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var client = new BenchClient(await ConnectSocketAsync(uri, timeout, cancellationToken), bufferBytes);
        client._receiving = client.ReceiveAsync();
        return client;
    }

    /// <summary>Starts counting the frames of step <paramref name="run"/>; frames of other steps are ignored.</summary>
    public RunState BeginRun(int run)
    {
        var state = new RunState(run);
        Volatile.Write(ref _run, state);
        return state;
    }

    /// <summary>Closes with the handshake (bounded), then releases the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseHandshakeAsync(_socket, _receiving);

        Abort();
    }

    /// <summary>
    /// Sends a close frame and waits (2 s at most each) for it to go and for the receive loop to see the server's answer;
    /// a failure is left to the caller's abort that follows.
    /// </summary>
    /// <summary>A connected <see cref="ClientWebSocket"/> without keep-alive pings (disposed if it cannot connect in time).</summary>
    internal static async Task<ClientWebSocket> ConnectSocketAsync(Uri uri, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            await socket.ConnectAsync(uri, deadline.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    internal static async Task CloseHandshakeAsync(WebSocket socket, Task receiving)
    {
        try
        {
            if (socket.State == WebSocketState.Open)
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bench done", deadline.Token);
                await receiving.WaitAsync(TimeSpan.FromSeconds(2));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException or ObjectDisposedException)
        {
            // The caller aborts the socket next.
        }
    }

    /// <summary>Drops the connection at once (no handshake): the fast way to let go of thousands of idle clients.</summary>
    public void Abort()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The receive loop has already ended.
        }

        _socket.Abort();
        _socket.Dispose();
    }

    private async Task ReceiveAsync()
    {
        var token = _stop.Token;
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == _buffer.Length)
                    {
                        if (_buffer.Length >= MaxMessageBytes)
                        {
                            return;
                        }

                        Array.Resize(ref _buffer, _buffer.Length * 2);
                    }

                    result = await _socket.ReceiveAsync(_buffer.AsMemory(length), token);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                Handle(_buffer.AsSpan(0, length), Stopwatch.GetTimestamp());
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // Closed, aborted or broken: the counts say what arrived.
        }
        finally
        {
            _welcomed.TrySetCanceled(CancellationToken.None);
            _stop.Dispose();
        }
    }

    private void Handle(ReadOnlySpan<byte> message, long now)
    {
        if (message.StartsWith(BenchEnvelope.FramePrefix))
        {
            var at = message.IndexOf(BenchEnvelope.FrameIdKey);
            if (at >= 0
                && BenchFrameId.TryParse(message[(at + BenchEnvelope.FrameIdKey.Length)..], out var run, out _, out var sentAt)
                && Volatile.Read(ref _run) is { } state
                && state.Run == run)
            {
                state.Record(BenchFrameId.Elapsed(sentAt, now) * 1_000_000 / Stopwatch.Frequency, now, message.Length);
            }
        }
        else if (message.StartsWith(BenchEnvelope.PingPrefix))
        {
            _welcomed.TrySetResult();
        }
    }
}

/// <summary>What one client received of one step. Written by its receive loop, read by the driver once the step is over.</summary>
internal sealed class RunState(int run)
{
    private long _received;
    private long _lastAt;
    private long _untimed;

    public int Run => run;

    public long Received => Volatile.Read(ref _received);

    /// <summary>Stopwatch timestamp of the last frame received.</summary>
    public long LastAt => Volatile.Read(ref _lastAt);

    public int MessageBytes { get; private set; }

    public LatencyHistogram Latency { get; } = new();

    public long Untimed => Volatile.Read(ref _untimed);

    public void Record(long latencyMicroseconds, long now, int bytes)
    {
        Latency.Record(latencyMicroseconds);
        MessageBytes = bytes;
        Volatile.Write(ref _lastAt, now);
        Volatile.Write(ref _received, _received + 1);
    }

    /// <summary>A frame whose send time could not be read: counted, without a latency.</summary>
    public void RecordUntimed(long now, int bytes)
    {
        MessageBytes = bytes;
        Volatile.Write(ref _untimed, _untimed + 1);
        Volatile.Write(ref _lastAt, now);
        Volatile.Write(ref _received, _received + 1);
    }
}
