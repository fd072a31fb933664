using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>A received envelope: its type, payload, timestamp and seq (a message about a job), plus the raw JSON text.</summary>
public sealed record ReceivedMessage(string Type, JsonElement Payload, string Timestamp, string Raw, long? Seq = null)
{
    public string? JobId => Payload.ValueKind == JsonValueKind.Object && Payload.TryGetProperty("job_id", out var id) ? id.GetString() : null;

    public bool IsFor(Guid jobId) => JobId == jobId.ToString();

    /// <summary>The job's last message (API.md §3.3): progress 100 with a final stage.</summary>
    public bool IsEndOf(Guid jobId) =>
        Type == "progress" && IsFor(jobId) && Payload.GetProperty("progress").GetInt32() == 100
        && Payload.TryGetProperty("stage", out var stage) && stage.GetString() is "completed" or "failed" or "cancelled";

    public string? Str(string property) =>
        Payload.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static ReceivedMessage Parse(string raw)
    {
        using var json = JsonDocument.Parse(raw);
        var root = json.RootElement;
        return new ReceivedMessage(
            root.GetProperty("type").GetString()!, root.GetProperty("payload").Clone(), root.GetProperty("timestamp").GetString()!, raw,
            root.TryGetProperty("seq", out var seq) ? seq.GetInt64() : null);
    }

    public override string ToString() => Raw;
}

/// <summary>What both realtime clients (WebSocket and SSE) can do: read whole envelopes in order.</summary>
public interface IMessageReader
{
    Task<ReceivedMessage?> ReceiveAsync(TimeSpan? timeout = null);
}

public static class MessageReaderExtensions
{
    /// <summary>Reads until a message matches; returns everything read, the match last. Fails on timeout or close.</summary>
    public static async Task<List<ReceivedMessage>> ReceiveUntilAsync(
        this IMessageReader reader, Func<ReceivedMessage, bool> match, TimeSpan? timeout = null)
    {
        var seen = new List<ReceivedMessage>();
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var left = limit - clock.Elapsed;
            ReceivedMessage? message;
            try
            {
                message = left > TimeSpan.Zero ? await reader.ReceiveAsync(left) : throw new OperationCanceledException();
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No matching message in {limit}; received {seen.Count}: {string.Join(" | ", seen.TakeLast(5))}");
            }

            if (message is null)
            {
                throw new InvalidOperationException(
                    $"The server closed the connection before a matching message; received {seen.Count}: {string.Join(" | ", seen.TakeLast(5))}");
            }

            seen.Add(message);
            if (match(message))
            {
                return seen;
            }
        }
    }

    /// <summary>The welcome (API.md §3.1): everything up to and including the first ping.</summary>
    public static Task<List<ReceivedMessage>> ReceiveWelcomeAsync(this IMessageReader reader) =>
        reader.ReceiveUntilAsync(m => m.Type == "ping", TimeSpan.FromSeconds(10));

    /// <summary>Every message of one job until its final progress 100 (other jobs' messages and pings are left out).</summary>
    public static async Task<List<ReceivedMessage>> ReceiveJobAsync(this IMessageReader reader, Guid jobId, TimeSpan? timeout = null)
    {
        var all = await reader.ReceiveUntilAsync(m => m.IsEndOf(jobId), timeout ?? TimeSpan.FromSeconds(60));
        return all.Where(m => m.IsFor(jobId)).ToList();
    }
}

/// <summary>
/// A WebSocket test client that reads whole envelopes and knows how the server closed it. A read that times out stays
/// pending (cancelling a WebSocket receive would abort the socket), so the next read picks up where it left off. When the
/// server closes, the client completes the close handshake like a well-behaved client.
/// </summary>
public sealed class RealtimeClient(ClientWebSocket socket) : IMessageReader, IAsyncDisposable
{
    private readonly byte[] _buffer = new byte[1 << 20];
    private Task<ReceivedMessage?>? _pending;

    public ClientWebSocket Socket => socket;

    public WebSocketCloseStatus? CloseStatus => socket.CloseStatus;

    public string? CloseDescription => socket.CloseStatusDescription;

    /// <summary>The next message, or null when the server closed the connection. Throws OperationCanceledException on timeout.</summary>
    public async Task<ReceivedMessage?> ReceiveAsync(TimeSpan? timeout = null)
    {
        var read = _pending ??= ReadOneAsync();
        try
        {
            await read.WaitAsync(timeout ?? TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            throw new OperationCanceledException($"No message within {timeout ?? TimeSpan.FromSeconds(10)}.");
        }

        _pending = null;
        return await read;
    }

    /// <summary>
    /// Asserts that nothing was sent to this client before a probe, without waiting a while for nothing: sends a message
    /// of an unknown type, which the server answers (an error, <c>MSG_UNKNOWN_TYPE</c>) through the connection's one
    /// ordered queue (API.md §3.3, §3.6), and checks that this answer is the next message. Whatever the server had
    /// queued before it handled the probe would come first.
    /// </summary>
    public async Task ExpectNothingBeforeProbeAsync()
    {
        await SendTextAsync($$"""{"type":"test_probe","payload":{},"timestamp":"{{DateTime.UtcNow:O}}"}""");
        var next = await ReceiveAsync(TimeSpan.FromSeconds(10));
        Assert.True(next is not null, "The server closed the connection unexpectedly.");
        Assert.True(
            next.Type == "error" && next.JobId is null
                             && next.Payload.GetProperty("details").GetProperty("error_code").GetString() == "MSG_UNKNOWN_TYPE"
                             && next.Str("error")?.Contains("test_probe", StringComparison.Ordinal) == true,
            $"Unexpected message before the probe's answer: {next.Raw}");
    }

    /// <summary>Reads until the server closes the connection; returns what arrived before the close.</summary>
    public async Task<List<ReceivedMessage>> ReceiveUntilClosedAsync(TimeSpan? timeout = null)
    {
        var seen = new List<ReceivedMessage>();
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var left = limit - clock.Elapsed;
            ReceivedMessage? message;
            try
            {
                message = await ReceiveAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The server did not close the connection within {limit}; received {seen.Count}: "
                                           + string.Join(" | ", seen.TakeLast(5)));
            }

            if (message is null)
            {
                return seen;
            }

            seen.Add(message);
        }
    }

    public Task SendTextAsync(string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    public Task SendPongAsync() =>
        SendTextAsync($$"""{"type":"pong","payload":{"timestamp":"{{DateTime.UtcNow:O}}"},"timestamp":"{{DateTime.UtcNow:O}}"}""");

    public async ValueTask DisposeAsync()
    {
        if (socket.State == WebSocketState.Open)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                if (_pending is null)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "test done", deadline.Token);
                }
                else
                {
                    // A read is outstanding: send our close and let that read take the server's answer.
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "test done", deadline.Token);
                    while (_pending is { } read && await read.WaitAsync(deadline.Token) is not null)
                    {
                        _pending = ReadOneAsync();
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or TimeoutException)
            {
                socket.Abort();
            }
        }

        socket.Dispose();
    }

    private async Task<ReceivedMessage?> ReadOneAsync()
    {
        var length = 0;
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(new ArraySegment<byte>(_buffer, length, _buffer.Length - length), CancellationToken.None);
            length += result.Count;
        }
        while (!result.EndOfMessage);

        if (result.MessageType == WebSocketMessageType.Close)
        {
            if (socket.State == WebSocketState.CloseReceived)
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, "bye", deadline.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
                {
                    // The server has gone already; the close status it sent is what the test looks at.
                }
            }

            return null;
        }

        return ReceivedMessage.Parse(Encoding.UTF8.GetString(_buffer, 0, length));
    }
}
