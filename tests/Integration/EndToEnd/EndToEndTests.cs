using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.EndToEnd;

/// <summary>The whole flow on the real host (matrix §8.1): POST a job, watch it over WebSocket, read it back over REST.</summary>
public sealed class EndToEndTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task E2eStartJobToRealtime()
    {
        string[] plugins = ["ball_detection", "motion_detection"];
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(40, fps: 20), plugins);

        var (client, welcome) = await server.ConnectWelcomedAsync($"job_id={id}");
        await using var owned = client;
        var messages = await client.ReceiveUntilAsync(m => m.IsEndOf(id), TimeSpan.FromSeconds(30));

        Assert.Equal(["metadata", "metadata", "ping"], welcome.Select(m => m.Type));
        Assert.All(messages.Where(m => m.Type != "ping"), m => Assert.True(m.IsFor(id), m.Raw));
        Assert.Equal("completed", messages[^1].Str("stage"));
        var frames = messages.Where(m => m.Type == "frame").ToList();
        Assert.NotEmpty(frames);
        Assert.Equal(plugins.Length, messages.Count(m => m.Type == "plugin_status" && m.Str("status") == "completed"));

        // REST has the same job, completed, with every frame and the very results that were streamed.
        var job = await server.GetJsonAsync($"/v1/jobs/{id}");
        var stored = job.GetProperty("frames").EnumerateArray().ToDictionary(f => f.GetProperty("frame_id").GetString()!, f => f.GetProperty("results"));
        Assert.Equal(40, stored.Count);
        foreach (var frame in frames)
        {
            Assert.True(JsonElement.DeepEquals(stored[frame.Str("frame_id")!].GetProperty(frame.Str("plugin")!), frame.Payload.GetProperty("data")));
        }
    }

    [Fact]
    public async Task E2eRealtimeMessagesArrive()
    {
        string[] plugins = ["motion_detection", "ball_detection", "frame_quality"];
        var (client, _) = await server.ConnectWelcomedAsync();
        await using var owned = client;

        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(8), plugins);
        var messages = await client.ReceiveJobAsync(id);

        Assert.All(messages, JobMessageAssert.IsEnvelope);
        JobMessageAssert.FollowsJobOrder(messages, id, plugins, frames: 8);
        var timestamps = messages.Select(m => DateTime.Parse(m.Timestamp, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.RoundtripKind)).ToList();
        Assert.Equal(timestamps.Order(), timestamps);
    }

    [Fact]
    public async Task E2eExtendedModelUpdates()
    {
        string[] plugins = ["frame_quality", "pitch_detection"];
        var (client, _) = await server.ConnectWelcomedAsync();
        await using var owned = client;

        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(5), plugins);
        var messages = await client.ReceiveJobAsync(id);
        var job = await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(10), "completed");

        // progress: the last message's value.
        Assert.Equal(messages.Last(m => m.Type == "progress").Payload.GetProperty("progress").GetInt32(), job.GetProperty("progress").GetInt32());

        // plugin_timings: the plugin_status totals, to one decimal.
        var totals = messages.Where(m => m.Type == "plugin_status" && m.Str("status") == "completed")
            .ToDictionary(m => m.Str("plugin")!, m => Math.Round(m.Payload.GetProperty("timing_ms").GetDouble(), 1));
        var timings = job.GetProperty("plugin_timings").EnumerateObject().ToDictionary(t => t.Name, t => t.Value.GetDouble());
        Assert.Equal(totals.OrderBy(t => t.Key, StringComparer.Ordinal), timings.OrderBy(t => t.Key, StringComparer.Ordinal));

        // warnings: one per warning message, in the order raised.
        var warned = messages.Where(m => m.Type == "warning").Select(m => $"{m.Str("plugin")}: {m.Str("message")} ({m.Str("frame_id")})").ToList();
        var warnings = job.GetProperty("warnings").ValueKind == JsonValueKind.Null
            ? new List<string>()
            : job.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToList();
        Assert.Equal(warned, warnings);

        // frames: one per frame id streamed, each plugin's result equal to its frame message's data.
        var frameMessages = messages.Where(m => m.Type == "frame").ToList();
        var frames = job.GetProperty("frames").EnumerateArray().ToList();
        Assert.Equal(frameMessages.Select(m => m.Str("frame_id")).Distinct(), frames.Select(f => f.GetProperty("frame_id").GetString()));
        foreach (var message in frameMessages)
        {
            var frame = frames.Single(f => f.GetProperty("frame_id").GetString() == message.Str("frame_id"));
            Assert.True(JsonElement.DeepEquals(frame.GetProperty("results").GetProperty(message.Str("plugin")!), message.Payload.GetProperty("data")));
        }

        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.Equal("cpu", job.GetProperty("device_used").GetString());
    }

    [Fact]
    public async Task E2eMultipleClientsReceiveSameMessages()
    {
        string[] plugins = ["ball_detection", "motion_detection"];
        var clients = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => server.ConnectWelcomedAsync()));
        try
        {
            var id = await server.SubmitJobAsync(ServerFixture.Synthetic(10), plugins);
            var received = await Task.WhenAll(clients.Select(c => c.Client.ReceiveJobAsync(id)));

            JobMessageAssert.FollowsJobOrder(received[0], id, plugins, frames: 10);
            foreach (var sequence in received.Skip(1))
            {
                // The very same bytes, in the same order.
                Assert.Equal(received[0].Select(m => m.Raw), sequence.Select(m => m.Raw));
            }
        }
        finally
        {
            foreach (var (client, _) in clients)
            {
                await client.DisposeAsync();
            }
        }
    }
}
