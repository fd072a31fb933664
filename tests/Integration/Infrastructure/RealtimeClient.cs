using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>A received envelope: its type, payload and timestamp, plus the raw JSON text.</summary>
public sealed record ReceivedMessage(string Type, JsonElement Payload, string Timestamp, string Raw)
{
    public string? JobId => Payload.TryGetProperty("job_id", out var id) ? id.GetString() : null;

    public override string ToString() => Raw;
}

/// <summary>A WebSocket test client that reads whole envelopes and knows how the server closed it.</summary>
public sealed class RealtimeClient(ClientWebSocket socket) : IAsyncDisposable
{
    private readonly byte[] _buffer = new byte[1 << 20];

    public ClientWebSocket Socket => socket;

    public WebSocketCloseStatus? CloseStatus => socket.CloseStatus;

    public string? CloseDescription => socket.CloseStatusDescription;

    /// <summary>The next message, or null when the server closed the connection.</summary>
    public async Task<ReceivedMessage?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var length = 0;
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(new ArraySegment<byte>(_buffer, length, _buffer.Length - length), deadline.Token);
            length += result.Count;
        }
        while (!result.EndOfMessage);

        if (result.MessageType == WebSocketMessageType.Close)
        {
            return null;
        }

        var raw = Encoding.UTF8.GetString(_buffer, 0, length);
        using var json = JsonDocument.Parse(raw);
        var root = json.RootElement;
        return new ReceivedMessage(
            root.GetProperty("type").GetString()!, root.GetProperty("payload").Clone(), root.GetProperty("timestamp").GetString()!, raw);
    }

    /// <summary>Reads until a message matches; returns everything read, the match last. Fails on timeout or close.</summary>
    public async Task<List<ReceivedMessage>> ReceiveUntilAsync(Func<ReceivedMessage, bool> match, TimeSpan? timeout = null)
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
                message = left > TimeSpan.Zero ? await ReceiveAsync(left) : throw new OperationCanceledException();
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No matching message in {limit}; received {seen.Count}: {string.Join(" | ", seen.TakeLast(5))}");
            }

            if (message is null)
            {
                throw new InvalidOperationException(
                    $"The server closed the connection ({CloseStatus} {CloseDescription}) before a matching message; received {seen.Count}.");
            }

            seen.Add(message);
            if (match(message))
            {
                return seen;
            }
        }
    }

    /// <summary>Reads until the server closes the connection; returns what arrived before the close.</summary>
    public async Task<List<ReceivedMessage>> ReceiveUntilClosedAsync(TimeSpan? timeout = null)
    {
        var seen = new List<ReceivedMessage>();
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        while (await ReceiveAsync(limit) is { } message)
        {
            seen.Add(message);
        }

        return seen;
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
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "test done", deadline.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                socket.Abort();
            }
        }

        socket.Dispose();
    }
}
