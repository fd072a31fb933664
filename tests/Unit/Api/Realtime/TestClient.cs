using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CleanRealtime.Api.Realtime;
using CleanRealtime.UnitTests.TestSupport;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>One message as the client read it off the wire.</summary>
internal sealed record Received(string Raw, string Type, JsonElement Payload, string Timestamp)
{
    /// <summary>A short name for comparing sequences: <c>progress:42</c>, <c>frame:7</c>, <c>plugin_status:3</c>, <c>ping</c>.</summary>
    public string Key => Type switch
    {
        "progress" => $"progress:{Payload.GetProperty("progress").GetInt32()}",
        "frame" => $"frame:{Payload.GetProperty("frame_id").GetString()}",
        "plugin_status" => $"plugin_status:{Payload.GetProperty("frames_processed").GetInt32()}",
        "metadata" => $"metadata:{Payload.GetProperty("plugin").GetString()}",
        "error" => $"error:{Payload.GetProperty("error").GetString()}",
        "warning" => $"warning:{Payload.GetProperty("message").GetString()}",
        _ => Type,
    };
}

internal sealed record ReceivedClose(WebSocketCloseStatus? Status, string? Description, IReadOnlyList<Received> Before)
{
    public int? Code => Status is { } status ? (int)status : null;
}

/// <summary>The client side of a <see cref="WebSocketPair"/> whose server side the manager owns.</summary>
internal sealed class TestClient(WebSocketPair pair, Connection connection, Task receiving)
{
    public WebSocketPair Pair => pair;

    public WebSocket Socket => pair.Client;

    public Connection Connection => connection;

    /// <summary>The server's <see cref="WebSocketReceiver"/> loop for this client.</summary>
    public Task Receiving => receiving;

    /// <summary>The next message; fails if the server closes instead, or nothing arrives in time.</summary>
    public async Task<Received> ReceiveAsync()
    {
        var next = await ReceiveFrameAsync();
        Assert.True(next.Message is not null, $"expected a message but the server closed with {next.Close?.Status}: {next.Close?.Description}");
        return next.Message;
    }

    public async Task<IReadOnlyList<Received>> ReceiveAsync(int count)
    {
        var messages = new List<Received>(count);
        for (var i = 0; i < count; i++)
        {
            messages.Add(await ReceiveAsync());
        }

        return messages;
    }

    /// <summary>
    /// Reads until the server's close frame, keeping the messages before it, and answers the close unless
    /// <paramref name="answer"/> is false (when the server's close was itself the answer to one the client sent).
    /// </summary>
    public async Task<ReceivedClose> ReceiveCloseAsync(bool answer = true)
    {
        var before = new List<Received>();
        while (true)
        {
            var next = await ReceiveFrameAsync();
            if (next.Close is { } close)
            {
                if (answer && Socket.State == WebSocketState.CloseReceived)
                {
                    using var deadline = new CancellationTokenSource(Eventually.DefaultTimeout);
                    await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", deadline.Token);
                }

                return close with { Before = before };
            }

            before.Add(next.Message!);
        }
    }

    public Task SendTextAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public Task SendPongAsync(string clientClock = "2025-03-14T09:26:53.000000Z") =>
        SendTextAsync($$"""{"type":"pong","payload":{"timestamp":"{{clientClock}}"},"timestamp":"{{clientClock}}"}""");

    public async Task SendAsync(byte[] data, WebSocketMessageType type, bool endOfMessage = true)
    {
        using var deadline = new CancellationTokenSource(Eventually.DefaultTimeout);
        await Socket.SendAsync(data, type, endOfMessage, deadline.Token);
    }

    private async Task<(Received? Message, ReceivedClose? Close)> ReceiveFrameAsync()
    {
        using var deadline = new CancellationTokenSource(Eventually.DefaultTimeout);
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            ValueWebSocketReceiveResult result;
            try
            {
                result = await Socket.ReceiveAsync(buffer.GetMemory(4096), deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"nothing arrived within {Eventually.DefaultTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
                throw;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (null, new ReceivedClose(Socket.CloseStatus, Socket.CloseStatusDescription, []));
            }

            buffer.Advance(result.Count);
            if (result.EndOfMessage)
            {
                Assert.Equal(WebSocketMessageType.Text, result.MessageType);
                var raw = Encoding.UTF8.GetString(buffer.WrittenSpan);
                using var document = JsonDocument.Parse(raw);
                var root = document.RootElement;
                return (new Received(
                    raw,
                    root.GetProperty("type").GetString()!,
                    root.GetProperty("payload").Clone(),
                    root.GetProperty("timestamp").GetString()!), null);
            }
        }
    }
}
