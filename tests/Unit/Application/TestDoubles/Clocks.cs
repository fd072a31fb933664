namespace CleanRealtime.UnitTests.Application.TestDoubles;

/// <summary>
/// A clock whose wall time (<see cref="GetUtcNow"/>) and monotonic timestamp (<see cref="GetTimestamp"/>) are set
/// independently, as on a real machine where NTP or an operator can move the wall clock. The timestamp ticks at a
/// frequency other than <see cref="TimeSpan.TicksPerSecond"/> (1 GHz, like Stopwatch on Linux) so that a unit mix-up shows.
/// </summary>
internal sealed class SplitClock(long frequency = 1_000_000_000) : TimeProvider
{
    private long _timestamp = 5 * frequency;
    private DateTimeOffset _wall = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    public override long TimestampFrequency => frequency;

    public override long GetTimestamp() => Interlocked.Read(ref _timestamp);

    public override DateTimeOffset GetUtcNow() => _wall;

    /// <summary>Moves the monotonic timestamp forward (the wall clock stays where it is).</summary>
    public void AdvanceMonotonic(TimeSpan by) =>
        Interlocked.Add(ref _timestamp, checked(by.Ticks * frequency / TimeSpan.TicksPerSecond));

    /// <summary>Sets the wall clock anywhere, backwards included (the timestamp stays where it is).</summary>
    public void SetWallClock(DateTimeOffset value) => _wall = value;
}

/// <summary>A clock whose monotonic timestamp cannot be read; its wall clock works.</summary>
internal sealed class BrokenTimestampClock : TimeProvider
{
    private int _reads;

    public int TimestampReads => Volatile.Read(ref _reads);

    public override long GetTimestamp()
    {
        Interlocked.Increment(ref _reads);
        throw new InvalidOperationException("the high-resolution timer is unavailable");
    }
}
