using System.Buffers.Text;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace CleanRealtime.Bench.Wire;

/// <summary>
/// The <c>frame_id</c> of a benchmark frame: 24 hex digits, <c>RRRR SSSSSSSS TTTTTTTTTTTT</c>: the step (run) it belongs
/// to, its sequence number, and the low 48 bits of the publisher's <see cref="Stopwatch.GetTimestamp"/> when it was made
/// (wraps after 78 h at 1 ns ticks; differences are taken modulo 2^48). Fixed width, so every frame has the same size.
/// Stopwatch is CLOCK_MONOTONIC on Linux, the same clock in every process.
/// </summary>
internal static class BenchFrameId
{
    public const int Length = 4 + 8 + 12;
    public const int MaxRun = 9999;
    private const long TimestampMask = (1L << 48) - 1;

    public static string Format(int run, long sequence, long timestamp) =>
        string.Create(Length, (run, sequence, timestamp), static (span, s) =>
        {
            // By hand: the culture-aware "X" formatting cost the bench publisher more than a frame's own checks.
            Hex(span[..4], (ulong)s.run);
            Hex(span.Slice(4, 8), (ulong)s.sequence);
            Hex(span.Slice(12, 12), (ulong)(s.timestamp & TimestampMask));
        });

    private static void Hex(Span<char> digits, ulong value)
    {
        for (var i = digits.Length - 1; i >= 0; i--, value >>= 4)
        {
            digits[i] = "0123456789ABCDEF"[(int)(value & 0xF)];
        }
    }

    public static bool TryParse(ReadOnlySpan<byte> utf8, out int run, out long sequence, out long timestamp)
    {
        run = 0;
        sequence = 0;
        timestamp = 0;
        return utf8.Length >= Length
               && Utf8Parser.TryParse(utf8[..4], out run, out var a, 'X') && a == 4
               && Utf8Parser.TryParse(utf8.Slice(4, 8), out sequence, out var b, 'X') && b == 8
               && Utf8Parser.TryParse(utf8.Slice(12, 12), out timestamp, out var c, 'X') && c == 12;
    }

    /// <summary>Ticks from a parsed (48-bit) timestamp to <paramref name="now"/>.</summary>
    public static long Elapsed(long timestamp48, long now) => ((now & TimestampMask) - timestamp48) & TimestampMask;
}

/// <summary>What both benchmark servers put in a frame message besides its id; <c>pad</c> sizes the envelope.</summary>
internal static class BenchPayload
{
    public const string Plugin = "bench";
    public const double TimingMs = 1.25;

    public static readonly Guid JobId = new("0b3e9a1c-5d4f-4e6a-9c2b-7a8d1e0f4c35");

    public static string DataJson(int padLength) =>
        string.Concat("{\"pad\":\"", new string('x', padLength), "\"}");

    /// <summary>The pad length that makes an envelope <paramref name="targetBytes"/> long, given its length with no pad.</summary>
    public static int FitPad(int targetBytes, int unpaddedBytes) => Math.Max(0, targetBytes - unpaddedBytes);
}

/// <summary>How a client recognises the messages it cares about without parsing the whole envelope.</summary>
internal static class BenchEnvelope
{
    public static ReadOnlySpan<byte> FramePrefix => "{\"type\":\"frame\""u8;

    public static ReadOnlySpan<byte> PingPrefix => "{\"type\":\"ping\""u8;

    public static ReadOnlySpan<byte> FrameIdKey => "\"frame_id\":\""u8;
}

/// <summary>The answer of <c>POST /bench/publish</c>.</summary>
internal sealed record PublishResult(long Published, double Seconds, double Rate, double MaxLagMs);

/// <summary>The answer of <c>GET /bench/stats</c> and <c>POST /bench/gc</c>: what only the server process can see.</summary>
internal sealed record ServerSnapshot(
    int Connections, long Dropped, long GcHeapBytes, long GcCommittedBytes, long WorkingSetBytes, double CpuMs, int Threads, int MessageBytes,
    long AllocatedBytes, int Gen0Collections, int Gen1Collections, int Gen2Collections);

/// <summary>JSON of the bench control endpoints and of the results file: snake_case, reflection-based.</summary>
internal static class BenchJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
