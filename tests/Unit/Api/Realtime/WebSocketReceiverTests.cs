using System.Net.WebSockets;
using System.Text;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.UnitTests.TestSupport;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>API.md §3.6–3.7: what the server does with what a WebSocket client sends.</summary>
public sealed class WebSocketReceiverTests
{
    private static readonly TimeSpan Bound = Eventually.DefaultTimeout;

    [Theory]
    [InlineData("{not json", ErrorCodes.InvalidJson)]
    [InlineData("""{"type":"pong","payload":{"timestamp":"t"}} trailing""", ErrorCodes.InvalidJson)]
    [InlineData("""{"type":"\ud800","payload":{}}""", ErrorCodes.InvalidJson)]
    [InlineData("""{"payload":{"timestamp":"t"}}""", ErrorCodes.MissingField)]
    [InlineData("""{"type":"pong","payload":{}}""", ErrorCodes.MissingField)]
    [InlineData("""{"type":"subscribe","payload":{}}""", ErrorCodes.UnknownType)]
    public async Task Receive_MalformedMessage_RepliesWithErrorAndStaysOpen(string text, string code)
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        await client.SendTextAsync(text);

        var reply = await client.ReceiveAsync();
        Assert.Equal("error", reply.Type);
        Assert.Equal(code, reply.Payload.GetProperty("details").GetProperty("error_code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(reply.Payload.GetProperty("error").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(reply.Payload.GetProperty("details").GetProperty("message").GetString()));

        // Still open: the next ping is answered and the pong is recorded.
        harness.Clock.Advance(harness.Options.PingInterval);
        Assert.Equal("ping", (await client.ReceiveAsync()).Type);
        await client.SendPongAsync();
        await Eventually.TrueAsync(() => client.Connection.LastRoundTripMs is not null, "the later pong is recorded");
        Assert.True(harness.IsConnected(client.Connection.Id));
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    [Fact]
    public async Task Receive_SeveralMalformedMessages_RepliesToEachInOrder()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        await client.SendTextAsync("nope");
        await client.SendTextAsync("""{"type":"ping","payload":{}}""");
        await client.SendTextAsync("""{"type":"pong"}""");

        var replies = await client.ReceiveAsync(3);
        Assert.Equal(
            [ErrorCodes.InvalidJson, ErrorCodes.UnknownType, ErrorCodes.MissingField],
            replies.Select(r => r.Payload.GetProperty("details").GetProperty("error_code").GetString()));
    }

    [Fact]
    public async Task Receive_MessageAtTheSizeLimit_IsAccepted()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();
        harness.Clock.Advance(harness.Options.PingInterval);
        Assert.Equal("ping", (await client.ReceiveAsync()).Type);

        await client.SendTextAsync(Padded(PongJson, harness.Options.MaxClientMessageBytes));

        await Eventually.TrueAsync(() => client.Connection.LastRoundTripMs is not null, "the 4 KiB pong is recorded");
        Assert.True(harness.IsConnected(client.Connection.Id));
    }

    [Fact]
    public async Task Receive_MessageOverTheSizeLimit_ClosesWith1009()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        await client.SendTextAsync(Padded(PongJson, harness.Options.MaxClientMessageBytes + 1));

        var close = await client.ReceiveCloseAsync();
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, close.Status);
        Assert.Empty(close.Before);
        await client.Connection.Completion.WaitAsync(Bound);
        Assert.Equal(1009, client.Connection.CloseCode);
        Assert.False(harness.IsConnected(client.Connection.Id));
        await client.Receiving.WaitAsync(Bound);
    }

    [Fact]
    public async Task Receive_FragmentedMessageOverTheSizeLimit_ClosesWith1009()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();
        var fragment = Encoding.UTF8.GetBytes(new string(' ', 2000));

        await client.SendAsync(fragment, WebSocketMessageType.Text, endOfMessage: false);
        await client.SendAsync(fragment, WebSocketMessageType.Text, endOfMessage: false);
        await client.SendAsync(fragment, WebSocketMessageType.Text, endOfMessage: true);

        var close = await client.ReceiveCloseAsync();
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, close.Status);
        await client.Connection.Completion.WaitAsync(Bound);
        Assert.False(harness.IsConnected(client.Connection.Id));
    }

    [Fact]
    public async Task Receive_BinaryMessage_ClosesWith1003()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        await client.SendAsync(Encoding.UTF8.GetBytes(PongJson), WebSocketMessageType.Binary);

        var close = await client.ReceiveCloseAsync();
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, close.Status);
        await client.Connection.Completion.WaitAsync(Bound);
        Assert.Equal(1003, client.Connection.CloseCode);
        Assert.False(harness.IsConnected(client.Connection.Id));
    }

    [Theory]
    [InlineData(WebSocketCloseStatus.NormalClosure)]
    [InlineData(WebSocketCloseStatus.EndpointUnavailable)]
    public async Task Receive_ClientClose_IsEchoedAndFreesTheConnection(WebSocketCloseStatus status)
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        using (var deadline = new CancellationTokenSource(Bound))
        {
            await client.Socket.CloseAsync(status, "bye", deadline.Token);
        }

        Assert.Equal(WebSocketState.Closed, client.Socket.State);
        Assert.Equal(status, client.Socket.CloseStatus);
        await client.Connection.Completion.WaitAsync(Bound);
        await client.Receiving.WaitAsync(Bound);
        Assert.Equal((int)status, client.Connection.CloseCode);
        Assert.False(harness.IsConnected(client.Connection.Id));
    }

    [Fact]
    public async Task Receive_ClientCloseWithoutStatus_CompletesTheHandshakeWith1000()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();

        // What a browser sends for ws.close(): a masked close frame with no payload, so no status code.
        // (The .NET client cannot produce one: given Empty it puts 1005 on the wire.)
        using (var deadline = new CancellationTokenSource(Bound))
        {
            await client.Pair.SendRawToServerAsync(new byte[] { 0x88, 0x80, 0x12, 0x34, 0x56, 0x78 }, deadline.Token);
        }

        var close = await client.ReceiveCloseAsync(answer: false);
        Assert.True(WebSocketCloseStatus.NormalClosure == close.Status, $"echoed {close.Status}; the server read {client.Pair.Server.CloseStatus}");
        await client.Connection.Completion.WaitAsync(Bound);
        Assert.Equal(1000, client.Connection.CloseCode);
        Assert.False(harness.IsConnected(client.Connection.Id));
    }

    [Fact]
    public async Task Receive_WhenTheNetworkBreaks_RemovesOnlyThatConnection()
    {
        await using var harness = new RealtimeHarness();
        var broken = harness.Connect();
        var other = harness.Connect();

        broken.Pair.Break();

        await broken.Connection.Completion.WaitAsync(Bound);
        await broken.Receiving.WaitAsync(Bound);
        Assert.False(harness.IsConnected(broken.Connection.Id));
        Assert.True(harness.IsConnected(other.Connection.Id));
        harness.Publish(new WarningPayload("ocr", "still here"));
        Assert.Equal("warning:still here", (await other.ReceiveAsync()).Key);
    }

    private const string PongJson = """{"type":"pong","payload":{"timestamp":"2025-03-14T09:26:53.000000Z"},"timestamp":"2025-03-14T09:26:53.000000Z"}""";

    private static string Padded(string json, int bytes) => json + new string(' ', bytes - Encoding.UTF8.GetByteCount(json));
}
