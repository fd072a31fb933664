using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.UnitTests.TestSupport;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that shows when code is waiting on it: every timer made on it (a
/// <c>Task.Delay(…, time)</c>, a <see cref="PeriodicTimer"/>, <see cref="TimeProvider.CreateTimer"/>) is recorded with its
/// due time, and every time one fires. Code parked on such a timer cannot go on until the clock is advanced, so "nothing
/// more happens until the clock moves" is checked by waiting until the timer exists, not by sleeping a while. A timer
/// fires inside <see cref="FakeTimeProvider.Advance"/>, so <see cref="Fired"/> is exact as soon as Advance returns.
/// </summary>
internal sealed class TimerWatchingClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly ConcurrentQueue<TimeSpan> _dueTimes = new();
    private int _fired;

    public TimerWatchingClock()
        : this(new DateTimeOffset(2000, 1, 1, 0, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>How many timers were made on this clock so far.</summary>
    public int Created => _dueTimes.Count;

    /// <summary>The due time each timer was made with, in order.</summary>
    public IReadOnlyList<TimeSpan> DueTimes => [.. _dueTimes];

    /// <summary>How many times any timer's callback ran.</summary>
    public int Fired => Volatile.Read(ref _fired);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = base.CreateTimer(
            s =>
            {
                Interlocked.Increment(ref _fired);
                callback(s);
            },
            state,
            dueTime,
            period);

        // Counted once it exists: whoever waits for the count finds it registered with the clock.
        _dueTimes.Enqueue(dueTime);
        return timer;
    }

    /// <summary>Waits (bounded) until <paramref name="count"/> timers in all were made on this clock.</summary>
    public Task WaitForTimersAsync(int count, string what) => Eventually.TrueAsync(() => Created >= count, what);
}
