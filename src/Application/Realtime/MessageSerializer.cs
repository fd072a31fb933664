using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// Writes the envelope <c>{"type","payload","timestamp"}</c> (and <c>"seq"</c> when the message has one) as UTF-8 JSON
/// (source-generated, snake_case), once per message; WebSocket, SSE, the event log and replays send the same bytes.
/// </summary>
public sealed class MessageSerializer
{
    private const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    private static readonly JsonSerializerOptions Options = new()
    {
        TypeInfoResolver = RealtimeJsonContext.Default.WithAddedModifier(HideRoutingProperties),
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Converters =
        {
            new SnakeCaseEnumConverter<PluginRunStatus>(), new SnakeCaseEnumConverter<WarningSeverity>(),
        },
    };

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _writer;

    public byte[] Serialize(RealtimeMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(512);
        var writer = _writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, message.Type.ToWire());
            writer.WritePropertyName("payload"u8);
            JsonSerializer.Serialize(writer, message.Payload, Options.GetTypeInfo(message.Payload.GetType()));
            Span<char> timestamp = stackalloc char[32];
            message.Timestamp.UtcDateTime.TryFormat(timestamp, out var written, TimestampFormat, CultureInfo.InvariantCulture);
            writer.WriteString("timestamp"u8, timestamp[..written]);
            if (message.Seq is { } seq)
            {
                writer.WriteNumber("seq"u8, seq);
            }

            writer.WriteEndObject();
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        catch
        {
            // A failed write leaves the cached writer mid-document: start the next message on a fresh one.
            _writer = null;
            throw;
        }
    }

    /// <summary>Serializes a message for sending: its bytes with its type and seq.</summary>
    public OutboundMessage ToOutbound(RealtimeMessage message) => new(message.Type, Serialize(message), message.Seq);

    public static string FormatTimestamp(DateTimeOffset timestamp) =>
        timestamp.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture);

    private static void HideRoutingProperties(JsonTypeInfo typeInfo)
    {
        if (!typeof(RealtimePayload).IsAssignableFrom(typeInfo.Type))
        {
            return;
        }

        for (var i = typeInfo.Properties.Count - 1; i >= 0; i--)
        {
            if (typeInfo.Properties[i].Name is "type" or "routing_job_id")
            {
                typeInfo.Properties.RemoveAt(i);
            }
        }
    }
}
