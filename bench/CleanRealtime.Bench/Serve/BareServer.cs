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
        BenchControl.Map(app, (run, sequence) => hub.Publish(envelope.Write(run, sequence)), hub.Stats, envelope.MessageBytes);
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
        var client = new BareClient(socket, queue);
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

    private sealed record BareClient(WebSocket Socket, Channel<byte[]> Queue);
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
