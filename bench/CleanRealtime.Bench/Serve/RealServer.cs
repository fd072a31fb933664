using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CleanRealtime.Api;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Media;
using CleanRealtime.Plugins.Sdk;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Bench.Wire;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Bench.Serve;

/// <summary>
/// The real server, built by the product's own <see cref="ServerApp.Build"/> (the same composition root as Program),
/// with a temp SQLite file and media folder, on loopback. Frames are published the way the realtime relay does:
/// a <see cref="FramePayload"/> checked by <see cref="RealtimeMessages.TryCreate"/>, serialized once and handed to
/// <see cref="IRealtimeBroadcaster.Publish"/> (the fan-out: the same bytes to each per-connection bounded queue + writer).
/// </summary>
internal static class RealServer
{
    public static WebApplication Build(ServeOptions options, string root)
    {
        var media = Directory.CreateDirectory(Path.Combine(root, "media")).FullName;
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Jobs"] = $"Data Source={Path.Combine(root, "jobs.db")}",
            ["Media:Root"] = media,
            ["Realtime:QueueCapacity"] = options.QueueCapacity.ToString(CultureInfo.InvariantCulture),
            ["Realtime:MaxConnections"] = options.MaxConnections.ToString(CultureInfo.InvariantCulture),
            // Every bench client comes from one loopback address: the per-client cap must not be the limit measured.
            ["Realtime:MaxConnectionsPerClient"] = options.MaxConnections.ToString(CultureInfo.InvariantCulture),

            // Bench clients never answer pings; keep them from being timed out during a long run.
            ["Realtime:PongTimeout"] = "01:00:00",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in options.Settings)
        {
            settings[key] = value;
        }

        var app = ServerApp.Build(["--contentRoot", root], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.WebHost.UseUrls($"http://127.0.0.1:{options.Port.ToString(CultureInfo.InvariantCulture)}");
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });

        var messages = app.Services.GetRequiredService<RealtimeMessages>();
        var broadcaster = app.Services.GetRequiredService<IRealtimeBroadcaster>();
        var manager = app.Services.GetRequiredService<RealtimeSessions>();
        var serializer = app.Services.GetRequiredService<MessageSerializer>();

        var unpadded = serializer.Serialize(new RealtimeMessage(Frame(Data(0), 0, 0), DateTimeOffset.UtcNow)).Length;
        var data = Data(BenchPayload.FitPad(options.MessageBytes, unpadded));
        var messageBytes = serializer.Serialize(new RealtimeMessage(Frame(data, 0, 0), DateTimeOffset.UtcNow)).Length;

        void PublishOne(int run, long sequence)
        {
            if (messages.TryCreate(Frame(data, run, sequence), out var message))
            {
                broadcaster.Publish(new PublishedMessage(message, serializer.ToOutbound(message)));
            }
        }

        // The publisher waits while a subscriber's queue is full, as the reference peers' emitters do (bench/README.md). The
        // connections are taken once per publish: one that closes meanwhile completes its queue, which ends any wait on it.
        Func<int, ValueTask> RoomGate()
        {
            var connections = manager.Connections;
            return async room =>
            {
                foreach (var connection in connections)
                {
                    var wait = connection.WaitForRoomAsync(room);
                    if (!wait.IsCompletedSuccessfully)
                    {
                        await wait;
                    }
                }
            };
        }

        BenchControl.Map(app, PublishOne, () => (manager.Count, manager.Connections.Sum(c => c.Dropped)), messageBytes, RoomGate);
        MapBarePipeline(app);
        EventLogBench.Map(app, () => serializer.Serialize(new RealtimeMessage(Frame(data, 0, 0), DateTimeOffset.UtcNow, Seq: 1_000_000)));
        return app;
    }

    /// <summary><c>POST /bench/pipeline?plugin=&amp;frames=[&amp;width=&amp;height=&amp;ahead=]</c> (640×480 by default, no decoding ahead): the bare plugin loop, in this process (see <see cref="BarePipeline"/>).</summary>
    private static void MapBarePipeline(WebApplication app)
    {
        var busy = new SemaphoreSlim(1, 1);
        app.MapPost("/bench/pipeline", async (string plugin, int frames, int? width, int? height, int? ahead, CancellationToken cancellationToken) =>
        {
            var found = app.Services.GetServices<IFramePlugin>().FirstOrDefault(p => p.Name == plugin);
            if (found is null || frames is < 1 or > 100_000 || width is < 16 or > 3840 || height is < 16 or > 2160 || ahead is < 0 or > 64)
            {
                return Results.BadRequest("plugin must be a registered plugin, frames 1..100000, width 16..3840, height 16..2160, ahead 0..64");
            }

            if (!await busy.WaitAsync(0, cancellationToken))
            {
                return Results.Conflict("a bare pipeline run is already going");
            }

            try
            {
                var result = await BarePipeline.RunAsync(
                    found, app.Services.GetRequiredService<IFrameSourceFactory>(), frames, width ?? 640, height ?? 480, ahead ?? 0, cancellationToken);
                return Results.Text(JsonSerializer.Serialize(result, BenchJson.Options), "application/json");
            }
            finally
            {
                busy.Release();
            }
        });
    }

    private static FramePayload Frame(JsonElement data, int run, long sequence) =>
        new(BenchPayload.JobId, BenchFrameId.Format(run, sequence, Stopwatch.GetTimestamp()), BenchPayload.Plugin, data,
            BenchPayload.TimingMs);

    private static JsonElement Data(int padLength)
    {
        using var document = JsonDocument.Parse(BenchPayload.DataJson(padLength));
        return document.RootElement.Clone();
    }
}
