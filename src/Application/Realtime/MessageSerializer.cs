using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// Writes the envelope <c>{"type","payload","timestamp"}</c> (and <c>"seq"</c> when the message has one) as UTF-8 JSON
/// (source-generated, snake_case), once per message; WebSocket, SSE, the event log and replays send the same bytes.
/// </summary>
public sealed class MessageSerializer
{
    private const int RoundTripLength = 28;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _writer;

    public byte[] Serialize(RealtimeMessage message) => Serialize(message, fastFrames: true);

    /// <summary>
    /// <paramref name="fastFrames"/>: a payload with a hand-written writer in <see cref="MessageKinds"/> (the <c>frame</c>,
    /// one per analysed frame and plugin, the bulk of the traffic) is written by it, byte for byte what the
    /// source-generated contract writes (MessageKindsTests compare the two), without the contract's per-property metadata
    /// walk; every other payload goes through the contract. A payload not in the table throws.
    /// </summary>
    internal byte[] Serialize(RealtimeMessage message, bool fastFrames)
    {
        ArgumentNullException.ThrowIfNull(message);
        var kind = MessageKinds.Of(message.Payload);
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(512);
        var writer = _writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, message.Type.ToWire());
            writer.WritePropertyName("payload"u8);
            kind.Write(writer, message.Payload, fastFrames);

            Span<byte> timestamp = stackalloc byte[RoundTripLength];
            writer.WriteString("timestamp"u8, timestamp[..FormatTimestamp(message.Timestamp, timestamp)]);
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

    /// <summary><see cref="FramePayload"/> as the contract writes it: snake_case, declaration order, null left out.</summary>
    internal static void WriteFrame(Utf8JsonWriter writer, FramePayload frame)
    {
        writer.WriteStartObject();
        writer.WriteString("job_id"u8, frame.JobId);
        writer.WriteString("frame_id"u8, frame.FrameId);
        writer.WriteString("plugin"u8, frame.Plugin);
        writer.WritePropertyName("data"u8);
        frame.Data.WriteTo(writer);
        writer.WriteNumber("timing_ms"u8, frame.TimingMs);
        if (frame.DeviceUsed is { } device)
        {
            writer.WriteString("device_used"u8, device);
        }

        writer.WriteEndObject();
    }

    /// <summary>Serializes a message for sending: its bytes with its type and seq.</summary>
    public OutboundMessage ToOutbound(RealtimeMessage message) => new(message.Type, Serialize(message), message.Seq);

    public static string FormatTimestamp(DateTimeOffset timestamp)
    {
        Span<byte> utf8 = stackalloc byte[RoundTripLength];
        return System.Text.Encoding.ASCII.GetString(utf8[..FormatTimestamp(timestamp, utf8)]);
    }

    /// <summary>
    /// Writes <c>yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'</c> (microseconds, truncated, as the custom <c>ffffff</c> does) through the fast
    /// round-trip ("O") formatter: its 7th fraction digit is cut. Returns the length (27).
    /// </summary>
    private static int FormatTimestamp(DateTimeOffset timestamp, Span<byte> utf8)
    {
        // "O" of a UTC DateTime: yyyy-MM-ddTHH:mm:ss.fffffffZ (28 bytes).
        if (!timestamp.UtcDateTime.TryFormat(utf8, out var written, "O", CultureInfo.InvariantCulture) || written != RoundTripLength)
        {
            throw new FormatException($"Unexpected round-trip timestamp of {written} bytes.");
        }

        utf8[RoundTripLength - 2] = (byte)'Z';
        return RoundTripLength - 1;
    }
}
