using System.Text.Json;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Api.Realtime;

/// <summary>What a client sent: a pong, or the error code and text to answer it with (API.md §3.6).</summary>
public sealed record ClientMessage(PongPayload? Pong, string? ErrorCode, string? Error)
{
    public static ClientMessage Valid(PongPayload pong) => new(pong, null, null);

    public static ClientMessage Invalid(string code, string error) => new(null, code, error);
}

public static class ClientMessageParser
{
    public static ClientMessage Parse(ReadOnlySpan<byte> utf8)
    {
        JsonDocument? document = null;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 16 });
            document = JsonDocument.ParseValue(ref reader);

            // ParseValue stops after the first value; reading on throws if anything but whitespace follows it.
            reader.Read();
        }
        catch (JsonException ex)
        {
            document?.Dispose();
            return ClientMessage.Invalid(ErrorCodes.InvalidJson, $"message is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            try
            {
                return Interpret(document.RootElement);
            }
            catch (InvalidOperationException ex)
            {
                // A string that cannot be read as text: invalid UTF-8, or an escaped lone surrogate such as "\ud800".
                return ClientMessage.Invalid(ErrorCodes.InvalidJson, $"message is not valid JSON text: {ex.Message}");
            }
        }
    }

    private static ClientMessage Interpret(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return ClientMessage.Invalid(ErrorCodes.InvalidJson, "a message must be a JSON object { type, payload, timestamp }");
        }

        if (!root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return ClientMessage.Invalid(ErrorCodes.MissingField, "missing required field 'type'");
        }

        if (!MessageTypeExtensions.TryParseWire(type.GetString(), out var messageType))
        {
            return ClientMessage.Invalid(ErrorCodes.UnknownType, $"unknown message type '{type.GetString()}'");
        }

        if (messageType != MessageType.Pong)
        {
            return ClientMessage.Invalid(ErrorCodes.UnknownType, $"'{messageType.ToWire()}' is sent by the server; clients send only 'pong'");
        }

        if (!root.TryGetProperty("payload", out var payload) || payload.ValueKind != JsonValueKind.Object)
        {
            return ClientMessage.Invalid(ErrorCodes.MissingField, "missing required field 'payload'");
        }

        if (!payload.TryGetProperty("timestamp", out var timestamp)
            || timestamp.ValueKind is not (JsonValueKind.String or JsonValueKind.Number)
            || (timestamp.ValueKind == JsonValueKind.String && string.IsNullOrWhiteSpace(timestamp.GetString())))
        {
            return ClientMessage.Invalid(ErrorCodes.MissingField, "missing required field 'payload.timestamp'");
        }

        var clock = timestamp.ValueKind == JsonValueKind.String ? timestamp.GetString()! : timestamp.GetRawText();
        return ClientMessage.Valid(new PongPayload(clock));
    }
}
