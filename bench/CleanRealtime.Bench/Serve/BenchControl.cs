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

    /// <param name="roomGate">
    /// Called at the start of each publish: returns how the publisher waits until every subscriber's queue has room for
    /// a chunk (null: the publisher never waits, and a full queue drops its oldest frame).
    /// </param>
    public static void Map(
        IEndpointRouteBuilder routes, Action<int, long> publishOne, Func<(int Connections, long Dropped)> connections, int messageBytes,
        Func<Func<int, ValueTask>>? roomGate = null)
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
                return Json(await Publisher.RunAsync(run, count, rate, publishOne, roomGate?.Invoke()));
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
            self.TotalProcessorTime.TotalMilliseconds, self.Threads.Count, messageBytes,
            GC.GetTotalAllocatedBytes(precise: false), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
    }

    private static IResult Json<T>(T value) => Results.Text(JsonSerializer.Serialize(value, BenchJson.Options), "application/json");
}

/// <summary>
/// Publishes at a steady rate, as an async loop on the thread pool (where the product's own publishers, the job runners
/// and the realtime relay, run, and where the reference peers' emitters run). When it is ahead of schedule it waits with
/// <see cref="Task.Delay(TimeSpan)"/> until the next frame is due (at least 1 ms, as the peers do), then publishes everything
/// that has fallen due in chunks of <see cref="Chunk"/>. Before each chunk it waits, when the server gives it a room gate,
/// until every subscriber's queue has room for the chunk: like the peers' emitters (which wait on a full client queue),
/// it never makes the server drop a frame, so "as fast as possible" (a huge rate) is the rate delivery sustains. The
/// product's publishing never waits (API.md §3.5); only this bench publisher does.
/// </summary>
internal static class Publisher
{
    private const int Chunk = 64;

    public static async Task<PublishResult> RunAsync(
        int run, long count, double rate, Action<int, long> publishOne, Func<int, ValueTask>? waitForRoom)
    {
        await Task.Yield();
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
                var ahead = (published / rate) - elapsed;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(ahead * 1000))));
                continue;
            }

            maxLagMs = Math.Max(maxLagMs, (elapsed - (published / rate)) * 1000);
            var end = Math.Min(due, published + Chunk);
            if (waitForRoom is not null)
            {
                var room = waitForRoom((int)(end - published));
                if (!room.IsCompletedSuccessfully)
                {
                    await room;
                }
            }

            while (published < end)
            {
                publishOne(run, published++);
            }
        }

        var seconds = (Stopwatch.GetTimestamp() - start) / frequency;
        return new PublishResult(published, seconds, published / (seconds + (1 / rate)), maxLagMs);
    }
}
