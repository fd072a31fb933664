using System.Numerics;

namespace CleanRealtime.Bench.Driver;

/// <summary>
/// A log-linear latency histogram in microseconds: exact below 1024 µs, then 512 buckets per power of two (0.2 % wide),
/// up to about 38 hours. Fixed size (58 KB), so memory stays bounded whatever the message count. One writer.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Exact = 1024;
    private const int PerOctave = 512;
    private const int MaxShift = 27;
    private const int Buckets = Exact + (MaxShift * PerOctave);

    private readonly int[] _counts = new int[Buckets];

    public long Count { get; private set; }

    public long MaxMicroseconds { get; private set; }

    public void Record(long microseconds)
    {
        microseconds = Math.Clamp(microseconds, 0, (1L << 37) - 1);
        _counts[IndexOf(microseconds)]++;
        Count++;
        MaxMicroseconds = Math.Max(MaxMicroseconds, microseconds);
    }

    /// <summary>Percentiles (0..1) over several histograms together, in milliseconds; NaN when there is no sample.</summary>
    public static double[] PercentilesMs(IReadOnlyList<LatencyHistogram> histograms, params double[] quantiles)
    {
        ArgumentNullException.ThrowIfNull(histograms);
        ArgumentNullException.ThrowIfNull(quantiles);
        var merged = new long[Buckets];
        long total = 0;
        foreach (var histogram in histograms)
        {
            for (var i = 0; i < Buckets; i++)
            {
                merged[i] += histogram._counts[i];
            }

            total += histogram.Count;
        }

        var result = new double[quantiles.Length];
        for (var q = 0; q < quantiles.Length; q++)
        {
            if (total == 0)
            {
                result[q] = double.NaN;
                continue;
            }

            var rank = Math.Max(1, (long)Math.Ceiling(quantiles[q] * total));
            long seen = 0;
            for (var i = 0; i < Buckets; i++)
            {
                seen += merged[i];
                if (seen >= rank)
                {
                    result[q] = ValueAt(i) / 1000.0;
                    break;
                }
            }
        }

        return result;
    }

    private static int IndexOf(long value)
    {
        if (value < Exact)
        {
            return (int)value;
        }

        var shift = (63 - BitOperations.LeadingZeroCount((ulong)value)) - 9;
        var top = (int)(value >> shift);
        return Exact + ((shift - 1) * PerOctave) + (top - PerOctave);
    }

    /// <summary>The middle of a bucket.</summary>
    private static double ValueAt(int index)
    {
        if (index < Exact)
        {
            return index;
        }

        var k = index - Exact;
        var shift = (k / PerOctave) + 1;
        var top = (long)((k % PerOctave) + PerOctave);
        return (top << shift) + ((1L << shift) / 2.0);
    }
}
