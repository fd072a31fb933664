using System.Diagnostics;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Bench.Wire;
using CleanRealtime.Domain.Realtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Bench.Serve;

/// <summary>What one timed run of the event log's batch writer stored.</summary>
internal sealed record EventLogAppendResult(int Events, int BatchSize, int MessageBytes, double Seconds, double EventsPerSecond);

/// <summary>
/// Log append throughput, inside the real server (bench endpoint <c>POST /bench/eventlog?job=&amp;firstSeq=&amp;events=</c>):
/// a <see cref="JobEventWriter"/> of its own (the product's options, so its default batch size and queue capacity) over
/// the server's own <see cref="IJobEventLog"/> singleton (EF Core on the server's SQLite file, WAL), fed
/// <c>events</c> frame messages of an existing job as fast as <see cref="JobEventWriter.AppendAsync"/> takes them, then
/// flushed: events / (first append → flush complete). The job must exist (the log's rows reference it).
/// </summary>
internal static class EventLogBench
{
    public const int MaxEvents = 1_000_000;

    public static void Map(WebApplication app, Func<byte[]> frameMessage)
    {
        var busy = new SemaphoreSlim(1, 1);
        app.MapPost("/bench/eventlog", async (Guid job, long firstSeq, int events, CancellationToken cancellationToken) =>
        {
            if (events is < 1 or > MaxEvents || firstSeq < 1)
            {
                return Results.BadRequest($"events 1..{MaxEvents}, firstSeq at least 1");
            }

            if (!await busy.WaitAsync(0, cancellationToken))
            {
                return Results.Conflict("an event log run is already going");
            }

            try
            {
                var result = await RunAsync(
                    app.Services.GetRequiredService<IJobEventLog>(), app.Services.GetRequiredService<IOptions<RealtimeOptions>>(),
                    job, firstSeq, events, frameMessage(), cancellationToken);
                return Results.Text(JsonSerializer.Serialize(result, BenchJson.Options), "application/json");
            }
            finally
            {
                busy.Release();
            }
        });
    }

    private static async Task<EventLogAppendResult> RunAsync(
        IJobEventLog log, IOptions<RealtimeOptions> options, Guid job, long firstSeq, int events, byte[] json, CancellationToken cancellationToken)
    {
        var writer = new JobEventWriter(log, options, TimeProvider.System, NullLogger<JobEventWriter>.Instance);
        var running = Task.Run(() => writer.RunAsync(cancellationToken), cancellationToken);
        var at = DateTimeOffset.UtcNow;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < events; i++)
        {
            await writer.AppendAsync(new JobEvent(job, firstSeq + i, MessageType.Frame, json, at, EndsJob: false));
        }

        await writer.FlushAsync(cancellationToken);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        writer.Complete();
        await running;
        return new EventLogAppendResult(events, options.Value.EventLogBatchSize, json.Length, seconds, events / seconds);
    }
}
