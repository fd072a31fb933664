using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that records every timer made on it (a connection's heartbeat, a <c>Task.Delay</c>,
/// a <see cref="PeriodicTimer"/>) with its due time and period, so a test can wait until the server has registered the
/// timer it is about to drive instead of sleeping a while before moving the clock.
/// </summary>
public sealed class TimerWatchingClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly ConcurrentQueue<(TimeSpan DueTime, TimeSpan Period)> _timers = new();

    /// <summary>How many timers with this due time and period were made so far.</summary>
    public int Count(TimeSpan dueTime, TimeSpan period) => _timers.Count(t => t.DueTime == dueTime && t.Period == period);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);

        // Recorded once it exists: whoever sees it counted finds it registered with the clock.
        _timers.Enqueue((dueTime, period));
        return timer;
    }

    /// <summary>Waits (bounded) until more than <paramref name="before"/> timers with this due time and period exist.</summary>
    public Task WaitForTimerAsync(TimeSpan dueTime, TimeSpan period, int before, string what) =>
        ServerFixture.WaitUntilAsync(() => Task.FromResult(Count(dueTime, period) > before), TimeSpan.FromSeconds(5), what);
}
