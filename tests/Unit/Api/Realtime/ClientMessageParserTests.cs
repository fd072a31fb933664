using System.Text;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>API.md §3.6: the one message a client sends is a pong; anything else gets an error code.</summary>
public sealed class ClientMessageParserTests
{
    [Theory]
    [InlineData("", ErrorCodes.InvalidJson, "JSON")]
    [InlineData("   ", ErrorCodes.InvalidJson, "JSON")]
    [InlineData("{not json", ErrorCodes.InvalidJson, "JSON")]
    [InlineData("""{"type":"pong","payload":{"timestamp":"t"}""", ErrorCodes.InvalidJson, "JSON")]
    [InlineData("""{"type":"pong","payload":{"timestamp":"t"}} trailing""", ErrorCodes.InvalidJson, "JSON")]
    [InlineData("""{"type":"pong","payload":{"timestamp":"t"}}{}""", ErrorCodes.InvalidJson, "JSON")]
    [InlineData("""{"type":"\ud800","payload":{}}""", ErrorCodes.InvalidJson, "JSON text")]
    [InlineData("""{"type":"pong","payload":{"timestamp":"\udc00"}}""", ErrorCodes.InvalidJson, "JSON text")]
    [InlineData("[1,2]", ErrorCodes.InvalidJson, "JSON object")]
    [InlineData("\"pong\"", ErrorCodes.InvalidJson, "JSON object")]
    [InlineData("42", ErrorCodes.InvalidJson, "JSON object")]
    [InlineData("null", ErrorCodes.InvalidJson, "JSON object")]
    [InlineData("{}", ErrorCodes.MissingField, "'type'")]
    [InlineData("""{"payload":{"timestamp":"t"}}""", ErrorCodes.MissingField, "'type'")]
    [InlineData("""{"type":7,"payload":{"timestamp":"t"}}""", ErrorCodes.MissingField, "'type'")]
    [InlineData("""{"type":null}""", ErrorCodes.MissingField, "'type'")]
    [InlineData("""{"type":"subscribe","payload":{}}""", ErrorCodes.UnknownType, "'subscribe'")]
    [InlineData("""{"type":"PONG","payload":{"timestamp":"t"}}""", ErrorCodes.UnknownType, "'PONG'")]
    [InlineData("""{"type":"ping","payload":{}}""", ErrorCodes.UnknownType, "sent by the server")]
    [InlineData("""{"type":"frame","payload":{}}""", ErrorCodes.UnknownType, "sent by the server")]
    [InlineData("""{"type":"error","payload":{"error":"x"}}""", ErrorCodes.UnknownType, "sent by the server")]
    [InlineData("""{"type":"pong"}""", ErrorCodes.MissingField, "'payload'")]
    [InlineData("""{"type":"pong","payload":"2025"}""", ErrorCodes.MissingField, "'payload'")]
    [InlineData("""{"type":"pong","payload":null}""", ErrorCodes.MissingField, "'payload'")]
    [InlineData("""{"type":"pong","payload":{}}""", ErrorCodes.MissingField, "'payload.timestamp'")]
    [InlineData("""{"type":"pong","payload":{"timestamp":""}}""", ErrorCodes.MissingField, "'payload.timestamp'")]
    [InlineData("""{"type":"pong","payload":{"timestamp":"  "}}""", ErrorCodes.MissingField, "'payload.timestamp'")]
    [InlineData("""{"type":"pong","payload":{"timestamp":null}}""", ErrorCodes.MissingField, "'payload.timestamp'")]
    [InlineData("""{"type":"pong","payload":{"timestamp":true}}""", ErrorCodes.MissingField, "'payload.timestamp'")]
    [InlineData("""{"type":"pong","payload":{"timestamp":{}}}""", ErrorCodes.MissingField, "'payload.timestamp'")]
    public void Parse_InvalidMessage_ReturnsTheErrorCode(string json, string code, string mentions)
    {
        var parsed = ClientMessageParser.Parse(Encoding.UTF8.GetBytes(json));

        Assert.Null(parsed.Pong);
        Assert.Equal(code, parsed.ErrorCode);
        Assert.Contains(mentions, parsed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NestingDeeperThanTheLimit_IsInvalidJson()
    {
        var json = """{"type":"pong","payload":{"timestamp":"t","x":""" + new string('[', 20) + new string(']', 20) + "}}";

        var parsed = ClientMessageParser.Parse(Encoding.UTF8.GetBytes(json));

        Assert.Equal(ErrorCodes.InvalidJson, parsed.ErrorCode);
    }

    [Fact]
    public void Parse_InvalidUtf8_IsInvalidJson()
    {
        byte[] json = [.. """{"type":"po"""u8, 0xFF, .. """ng","payload":{"timestamp":"t"}}"""u8];

        var parsed = ClientMessageParser.Parse(json);

        Assert.Null(parsed.Pong);
        Assert.Equal(ErrorCodes.InvalidJson, parsed.ErrorCode);
    }

    [Theory]
    [InlineData("""{"type":"pong","payload":{"timestamp":"2025-03-14T09:26:53.123456Z"},"timestamp":"2025-03-14T09:26:53.123456Z"}""", "2025-03-14T09:26:53.123456Z")]
    [InlineData("""{"type":"pong","payload":{"timestamp":"2025-03-14T09:26:53Z"}}""", "2025-03-14T09:26:53Z")]
    [InlineData("""{"type":"pong","payload":{"timestamp":1741944413123}}""", "1741944413123")]
    [InlineData("""{"type":"pong","payload":{"timestamp":1741944413.5}}""", "1741944413.5")]
    [InlineData(""" { "timestamp": "x", "payload": { "timestamp": "client clock", "extra": [1] }, "type": "pong" } """, "client clock")]
    public void Parse_ValidPong_ReturnsTheClientClock(string json, string clock)
    {
        var parsed = ClientMessageParser.Parse(Encoding.UTF8.GetBytes(json));

        Assert.Null(parsed.ErrorCode);
        Assert.Null(parsed.Error);
        Assert.Equal(new PongPayload(clock), parsed.Pong);
    }
}
