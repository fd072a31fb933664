using System.Diagnostics;

namespace CleanRealtime.UnitTests.TestSupport;

/// <summary>Bounded waits for effects that happen on another thread and have no task to await.</summary>
internal static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var started = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(started) > limit)
            {
                Assert.Fail($"Timed out after {limit.TotalSeconds} s waiting until {what}.");
            }

            await Task.Delay(2);
        }
    }
}
