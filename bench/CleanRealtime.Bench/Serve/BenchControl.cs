using System.Diagnostics;
using System.Runtime;
using System.Text.Json;
using CleanRealtime.Bench.Wire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CleanRealtime.Bench.Serve;

/// <summary>
/// The bench-only control endpoints, mapped on both servers after they are built (never on the product):
/// <c>POST /bench/publish?run=&amp;count=&amp;rate=</c> publishes <c>count</c> frames at <c>rate</c> per second through the
/// server's own publish path and answers when the last one is handed over; <c>GET /bench/stats</c> and
/// <c>POST /bench/gc</c> (a full, compacting, decommitting collection first) report what only the process can see.
/// </summary>
internal static class BenchControl
{
    public const long MaxCount = 50_000_000;
    public const double MaxRate = 10_000_000;

    public static void Map(IEndpointRouteBuilder routes, Action<int, long> publishOne, Func<(int Connections, long Dropped)> connections, int messageBytes)
    {
        var busy = new SemaphoreSlim(1, 1);
        routes.MapPost("/bench/publish", async (int run, long count, double rate) =>
        {
            if (run is < 0 or > BenchFrameId.MaxRun || count is < 1 or > MaxCount || !(rate is >= 1 and <= MaxRate))
            {
                return Results.BadRequest($"run 0..{BenchFrameId.MaxRun}, count 1..{MaxCount}, rate 1..{MaxRate}");
            }

            if (!await busy.WaitAsync(0))
            {
                return Results.Conflict("a publish is already running");
            }

            try
            {
                return Json(await Publisher.RunAsync(run, count, rate, publishOne));
            }
            finally
            {
                busy.Release();
            }
        });
        routes.MapGet("/bench/stats", () => Json(Snapshot(connections, messageBytes)));
        routes.MapPost("/bench/gc", async () =>
        {
            Collect();
            await Task.Delay(250);
            Collect();
            return Json(Snapshot(connections, messageBytes));
        });
    }

    private static void Collect()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private static ServerSnapshot Snapshot(Func<(int Connections, long Dropped)> connections, int messageBytes)
    {
        var (open, dropped) = connections();
        using var self = Process.GetCurrentProcess();
        return new ServerSnapshot(
            open, dropped, GC.GetTotalMemory(forceFullCollection: false), GC.GetGCMemoryInfo().TotalCommittedBytes, self.WorkingSet64,
            self.TotalProcessorTime.TotalMilliseconds, self.Threads.Count, messageBytes);
    }

    private static IResult Json<T>(T value) => Results.Text(JsonSerializer.Serialize(value, BenchJson.Options), "application/json");
}

/// <summary>
/// Publishes at a steady rate on a dedicated thread. It sleeps 1 ms whenever it is ahead of schedule and then publishes
/// everything that has fallen due (bursts of about rate/1000 per tick), so it never spins: the server's CPU time is
/// spent on publishing and delivering, not on waiting.
/// </summary>
internal static class Publisher
{
    private const int MaxBurst = 4096;

    public static Task<PublishResult> RunAsync(int run, long count, double rate, Action<int, long> publishOne)
    {
        var done = new TaskCompletionSource<PublishResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.TrySetResult(Run(run, count, rate, publishOne));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                done.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "bench-publisher",
        };
        thread.Start();
        return done.Task;
    }

    private static PublishResult Run(int run, long count, double rate, Action<int, long> publishOne)
    {
        var frequency = (double)Stopwatch.Frequency;
        var budgetSeconds = Math.Min(600, (count / rate * 2) + 10);
        var start = Stopwatch.GetTimestamp();
        long published = 0;
        var maxLagMs = 0.0;
        while (published < count)
        {
            var elapsed = (Stopwatch.GetTimestamp() - start) / frequency;
            if (elapsed > budgetSeconds)
            {
                break;
            }

            var due = Math.Min(count, (long)(elapsed * rate) + 1);
            if (due <= published)
            {
                Thread.Sleep(1);
                continue;
            }

            maxLagMs = Math.Max(maxLagMs, (elapsed - (published / rate)) * 1000);
            var end = Math.Min(due, published + MaxBurst);
            while (published < end)
            {
                publishOne(run, published++);
            }
        }

        var seconds = (Stopwatch.GetTimestamp() - start) / frequency;
        return new PublishResult(published, seconds, published / (seconds + (1 / rate)), maxLagMs);
    }
}
