using System.Buffers.Text;
using CleanRealtime.Bench.Driver;

namespace CleanRealtime.Bench.Wire;

/// <summary>Reads what the bench clients need from a realtime envelope's bytes without parsing the rest.</summary>
internal static class Envelope
{
    /// <summary>The envelope's <c>seq</c>: its last property (<c>…,"seq":N}</c>); messages about no job have none.</summary>
    public static bool TryReadSeq(ReadOnlySpan<byte> message, out long seq)
    {
        seq = 0;
        var at = message.LastIndexOf("\"seq\":"u8);
        return at >= 0
               && Utf8Parser.TryParse(message[(at + 6)..], out seq, out var consumed)
               && at + 6 + consumed == message.Length - 1
               && message[^1] == (byte)'}';
    }

    /// <summary>The envelope's <c>timestamp</c> (when its server built it), as UTC ticks.</summary>
    public static bool TryReadTimestamp(ReadOnlySpan<byte> message, out long utcTicks)
    {
        utcTicks = 0;
        var at = message.LastIndexOf("\"timestamp\":\""u8);
        return at >= 0 && PeerClient.TryParseUtcTicks(message[(at + "\"timestamp\":\""u8.Length)..], out utcTicks);
    }
}
