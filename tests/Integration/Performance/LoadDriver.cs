using System.Diagnostics;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.IntegrationTests.Performance;

/// <summary>
/// Publishes frame messages through the server's real path (schema validation, serialized once, then the fan-out) at a
/// paced rate. Each message carries its publish time (<see cref="Stopwatch.GetTimestamp"/>) and a sequence number.
/// </summary>
internal static class LoadDriver
{
    public static async Task<TimeSpan> PublishFramesAsync(ServerFixture server, Guid jobId, int count, int perSecond, int padding = 0)
    {
        var messages = server.Services.GetRequiredService<RealtimeMessages>();
        var broadcaster = server.Services.GetRequiredService<IRealtimeBroadcaster>();
        var serializer = server.Services.GetRequiredService<MessageSerializer>();
        var pad = new string('x', padding);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            // Paced against the schedule, not per message: a late tick catches up instead of drifting.
            var due = TimeSpan.FromSeconds((double)i / perSecond);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(2))
            {
                await Task.Delay(wait);
            }

            var data = JsonSerializer.SerializeToElement(new Dictionary<string, object>
            {
                ["seq"] = i, ["sent"] = Stopwatch.GetTimestamp(), ["pad"] = pad,
            });
            Assert.True(messages.TryCreate(new FramePayload(jobId, $"frame-{i + 1:D6}", "load", data, 0.1), out var message));
            broadcaster.Publish(new PublishedMessage(message, serializer.ToOutbound(message)));
        }

        return clock.Elapsed;
    }

    /// <summary>
    /// Reads frame messages until <paramref name="count"/> arrived; returns per frame its sequence, its latency (ms) and
    /// when it was received (a <see cref="Stopwatch.GetTimestamp"/>).
    /// </summary>
    public static async Task<List<(int Seq, double LatencyMs, long ReceivedAt)>> ReceiveFramesAsync(RealtimeClient client, int count, TimeSpan timeout)
    {
        var received = new List<(int, double, long)>(count);
        var clock = Stopwatch.StartNew();
        while (received.Count < count)
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                break;
            }

            ReceivedMessage? message;
            try
            {
                message = await client.ReceiveAsync(left);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (message is null)
            {
                break;
            }

            if (message.Type != "frame")
            {
                continue;
            }

            var now = Stopwatch.GetTimestamp();
            var data = message.Payload.GetProperty("data");
            var sent = data.GetProperty("sent").GetInt64();
            received.Add((data.GetProperty("seq").GetInt32(), Stopwatch.GetElapsedTime(sent, now).TotalMilliseconds, now));
        }

        return received;
    }

    public static double Percentile(IEnumerable<double> values, double percentile)
    {
        var sorted = values.Order().ToArray();
        Assert.NotEmpty(sorted);
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    /// <summary>Skips the welcome messages (metadata…, ping) so timing starts from a connected, idle client.</summary>
    public static async Task<RealtimeClient> ConnectReadyAsync(ServerFixture server, string? query = null)
    {
        var client = await server.ConnectAsync(query);
        await client.ReceiveUntilAsync(m => m.Type == "ping", TimeSpan.FromSeconds(10));
        return client;
    }
}
