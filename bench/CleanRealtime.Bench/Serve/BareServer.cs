using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading.Channels;
using CleanRealtime.Bench.Wire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Bench.Serve;

/// <summary>
/// The physical-limit baseline: a bare Kestrel broadcaster. Serialize once (Utf8JsonWriter, the same envelope and
/// size as the real server), one bounded <see cref="Channel{T}"/> (drop oldest) and one writer task per client, and
/// nothing else: no validation, no routing by job, no heartbeat, no per-connection bookkeeping.
/// </summary>
internal static class BareServer
{
    public static WebApplication Build(ServeOptions options, string root)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = root });
        builder.WebHost.UseUrls($"http://127.0.0.1:{options.Port.ToString(CultureInfo.InvariantCulture)}");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });

        var hub = new BareHub(options.QueueCapacity);
        app.Map("/v1/realtime", hub.AcceptAsync);

        var envelope = new BareEnvelope(options.MessageBytes);
        app.Lifetime.ApplicationStopped.Register(envelope.Dispose);
        BenchControl.Map(app, (run, sequence) => hub.Publish(envelope.Write(run, sequence)), hub.Stats, envelope.MessageBytes, hub.RoomGate);
        return app;
    }
}

/// <summary>The clients of the bare server: a copy-on-write array read without a lock by the publisher.</summary>
internal sealed class BareHub(int queueCapacity)
{
    private static readonly byte[] Welcome = Encoding.UTF8.GetBytes(
        "{\"type\":\"ping\",\"payload\":{\"interval_seconds\":30},\"timestamp\":\"2000-01-01T00:00:00.000000Z\"}");

    private readonly Lock _gate = new();
    private BareClient[] _clients = [];
    private long _dropped;

    public void Publish(byte[] message)
    {
        foreach (var client in Volatile.Read(ref _clients))
        {
            client.Queue.Writer.TryWrite(message);
        }
    }

    /// <summary>
    /// How the bench publisher waits until every client's queue has room (as on the real server, so that both publish the
    /// same way): the clients are taken once per publish; one that leaves meanwhile releases any wait on it.
    /// </summary>
    public Func<int, ValueTask> RoomGate()
    {
        var clients = Volatile.Read(ref _clients);
        return async room =>
        {
            foreach (var client in clients)
            {
                var wait = client.WaitForRoomAsync(room);
                if (!wait.IsCompletedSuccessfully)
                {
                    await wait;
                }
            }
        };
    }

    public (int Connections, long Dropped) Stats() => (Volatile.Read(ref _clients).Length, Interlocked.Read(ref _dropped));

    public async Task AcceptAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var queue = Channel.CreateBounded<byte[]>(
            new BoundedChannelOptions(queueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
        var client = new BareClient(socket, queue, queueCapacity);
        queue.Writer.TryWrite(Welcome);
        lock (_gate)
        {
            _clients = [.. _clients, client];
        }

        using var stop = new CancellationTokenSource();
        var writing = WriteAsync(client, stop.Token);
        try
        {
            await ReadUntilClosedAsync(socket, context.RequestAborted);
        }
        finally
        {
            lock (_gate)
            {
                _clients = _clients.Where(c => c != client).ToArray();
            }

            queue.Writer.TryComplete();
            client.ReleaseWaiter();
            await stop.CancelAsync();
            await writing;
        }

        if (socket.State == WebSocketState.CloseReceived)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, deadline.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
            {
                socket.Abort();
            }
        }
    }

    private static async Task WriteAsync(BareClient client, CancellationToken cancellationToken)
    {
        var reader = client.Queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out var message))
                {
                    client.Dequeued();
                    await client.Socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away: the reader notices and removes it.
        }
    }

    private static async Task ReadUntilClosedAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // Broken or aborted: same as closed.
        }
    }

    /// <summary>A client: its socket, its queue, and a publisher waiting for room in it (at most one; bench only).</summary>
    private sealed class BareClient(WebSocket socket, Channel<byte[]> queue, int capacity)
    {
        private readonly Lock _gate = new();
        private TaskCompletionSource? _room;
        private int _wanted;

        public WebSocket Socket => socket;

        public Channel<byte[]> Queue => queue;

        public ValueTask WaitForRoomAsync(int room)
        {
            room = Math.Clamp(room, 1, capacity);
            if (capacity - queue.Reader.Count >= room)
            {
                return ValueTask.CompletedTask;
            }

            TaskCompletionSource waiter;
            lock (_gate)
            {
                waiter = _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _wanted = Math.Max(_wanted, room);
            }

            // Registered, then checked again (full fences on both sides, see Dequeued): a reader that drained the queue
            // just before the registration is not missed.
            Interlocked.MemoryBarrier();
            if (capacity - queue.Reader.Count >= room || queue.Reader.Completion.IsCompleted)
            {
                ReleaseWaiter();
            }

            return new ValueTask(waiter.Task);
        }

        /// <summary>Called by the writer after each read: wakes the publisher once there is the room it waits for.</summary>
        public void Dequeued()
        {
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _room) is null)
            {
                return;
            }

            TaskCompletionSource? ready = null;
            lock (_gate)
            {
                if (_room is not null && capacity - queue.Reader.Count >= _wanted)
                {
                    (ready, _room, _wanted) = (_room, null, 0);
                }
            }

            ready?.TrySetResult();
        }

        public void ReleaseWaiter()
        {
            TaskCompletionSource? ready;
            lock (_gate)
            {
                (ready, _room, _wanted) = (_room, null, 0);
            }

            ready?.TrySetResult();
        }
    }
}

/// <summary>
/// Writes the frame envelope with a Utf8JsonWriter, byte for byte the shape the real server sends
/// (<c>{"type","payload":{job_id,frame_id,plugin,data,timing_ms},"timestamp"}</c>). One publisher thread.
/// </summary>
internal sealed class BareEnvelope : IDisposable
{
    private const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _writer;
    private readonly byte[] _data;

    public BareEnvelope(int targetBytes)
    {
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        _data = Encoding.UTF8.GetBytes(BenchPayload.DataJson(0));
        var unpadded = Write(0, 0).Length;
        _data = Encoding.UTF8.GetBytes(BenchPayload.DataJson(BenchPayload.FitPad(targetBytes, unpadded)));
        MessageBytes = Write(0, 0).Length;
    }

    public int MessageBytes { get; }

    public void Dispose() => _writer.Dispose();

    public byte[] Write(int run, long sequence) => Write(BenchFrameId.Format(run, sequence, Stopwatch.GetTimestamp()));

    public byte[] Write(string frameId)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteString("type"u8, "frame"u8);
        _writer.WritePropertyName("payload"u8);
        _writer.WriteStartObject();
        _writer.WriteString("job_id"u8, BenchPayload.JobId);
        _writer.WriteString("frame_id"u8, frameId);
        _writer.WriteString("plugin"u8, BenchPayload.Plugin);
        _writer.WritePropertyName("data"u8);
        _writer.WriteRawValue(_data, skipInputValidation: true);
        _writer.WriteNumber("timing_ms"u8, BenchPayload.TimingMs);
        _writer.WriteEndObject();
        Span<char> timestamp = stackalloc char[32];
        DateTime.UtcNow.TryFormat(timestamp, out var written, TimestampFormat, CultureInfo.InvariantCulture);
        _writer.WriteString("timestamp"u8, timestamp[..written]);
        _writer.WriteEndObject();
        _writer.Flush();
        return _buffer.WrittenSpan.ToArray();
    }
}
