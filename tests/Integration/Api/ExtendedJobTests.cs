using System.Net;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary>
/// The jobs endpoints (matrix §7): the extended model (§7.1), the frozen legacy model (§7.2), and both fed by a job
/// that is watched over the realtime channel (§7.3).
/// </summary>
public sealed class ExtendedJobTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly string[] LegacyFields = ["device_requested", "device_used", "fallback", "frames", "job_id"];

    private static readonly string[] ExtendedFields =
    [
        "completed_at", "created_at", "device_requested", "device_used", "error", "fallback", "frames", "job_id", "plugin_timings",
        "progress", "started_at", "status", "warnings",
    ];

    // ---- 7.1 extended ----

    [Fact]
    public async Task GetExtendedJobEndpointExists()
    {
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(1), ["motion_detection"]);

        using var response = await server.Http.GetAsync($"/v1/jobs/{id}/extended");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(30), "completed");
    }

    [Fact]
    public async Task GetExtendedJobReturnsModel()
    {
        var (id, job) = await server.RunJobAsync(ServerFixture.Synthetic(3), ["motion_detection", "frame_quality"]);

        Assert.Equal(ExtendedFields, Names(job));
        Assert.Equal(id, job.GetProperty("job_id").GetGuid());
        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.Equal(100, job.GetProperty("progress").GetInt32());
        Assert.Equal(JsonValueKind.Null, job.GetProperty("error").ValueKind);
        var created = job.GetProperty("created_at").GetDateTime();
        var started = job.GetProperty("started_at").GetDateTime();
        var completed = job.GetProperty("completed_at").GetDateTime();
        Assert.All(new[] { created, started, completed }, t => Assert.Equal(DateTimeKind.Utc, t.Kind));
        Assert.True(created <= started && started <= completed, $"{created:O} {started:O} {completed:O}");
        Assert.All(new[] { "created_at", "started_at", "completed_at" }, f => Assert.EndsWith("Z", job.GetProperty(f).GetString(), StringComparison.Ordinal));

        // Every legacy field, unchanged.
        var legacy = await server.GetJsonAsync($"/v1/jobs/{id}");
        foreach (var field in LegacyFields)
        {
            Assert.True(JsonElement.DeepEquals(legacy.GetProperty(field), job.GetProperty(field)), field);
        }
    }

    [Fact]
    public async Task GetExtendedJobHasProgress()
    {
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(40, fps: 20), ["motion_detection"]);
        var seen = new List<int>();

        // While it runs (about 2 s), the progress moves through values strictly between 0 and 100.
        var job = await server.GetJsonAsync($"/v1/jobs/{id}/extended");
        while (job.GetProperty("status").GetString() is "queued" or "running")
        {
            if (job.GetProperty("progress") is { ValueKind: JsonValueKind.Number } progress)
            {
                seen.Add(progress.GetInt32());
            }
            else
            {
                Assert.Equal("queued", job.GetProperty("status").GetString());
            }

            await Task.Delay(100);
            job = await server.GetJsonAsync($"/v1/jobs/{id}/extended");
        }

        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.Equal(100, job.GetProperty("progress").GetInt32());
        Assert.Contains(seen, p => p is > 0 and < 100);
        Assert.Equal(seen.Order(), seen);
    }

    [Fact]
    public async Task GetExtendedJobHasTimings()
    {
        string[] plugins = ["ball_detection", "motion_detection", "frame_quality"];

        var (_, job) = await server.RunJobAsync(ServerFixture.Synthetic(3), plugins);

        var timings = job.GetProperty("plugin_timings");
        Assert.Equal(plugins.Order(StringComparer.Ordinal), Names(timings));
        foreach (var timing in timings.EnumerateObject())
        {
            var ms = timing.Value.GetDouble();
            Assert.True(ms > 0, $"{timing.Name}: {ms}");
            Assert.Equal(Math.Round(ms, 1), ms);
        }
    }

    [Fact]
    public async Task GetExtendedJobHasWarnings()
    {
        var source = server.WriteMedia($"dark-{Guid.NewGuid():N}.bmp", TestMedia.BlackBmp());

        var (_, job) = await server.RunJobAsync(source, ["frame_quality", "pitch_detection"]);

        Assert.Equal("completed", job.GetProperty("status").GetString());
        var warnings = job.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.StartsWith("frame_quality: underexposed frame", warnings[0], StringComparison.Ordinal);
        Assert.Equal("pitch_detection: pitch corners not detected (frame-000001)", warnings[1]);

        // A job without warnings says null, not an empty list.
        var (_, clean) = await server.RunJobAsync(ServerFixture.Synthetic(1), ["motion_detection"]);
        Assert.Equal(JsonValueKind.Null, clean.GetProperty("warnings").ValueKind);
    }

    [Fact]
    public async Task GetExtendedJob_Queued_HasNullProgressAndTimings()
    {
        // Fill both worker lanes with paced jobs so the third waits in the queue.
        var blockers = new[]
        {
            await server.SubmitJobAsync(ServerFixture.Synthetic(600, fps: 30), ["motion_detection"]),
            await server.SubmitJobAsync(ServerFixture.Synthetic(600, fps: 30), ["motion_detection"]),
        };
        try
        {
            var queued = await server.SubmitJobAsync(ServerFixture.Synthetic(1), ["motion_detection"]);
            var job = await server.GetJsonAsync($"/v1/jobs/{queued}/extended");

            Assert.Equal("queued", job.GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.Null, job.GetProperty("progress").ValueKind);
            Assert.Equal(JsonValueKind.Null, job.GetProperty("plugin_timings").ValueKind);
            Assert.Equal(JsonValueKind.Null, job.GetProperty("started_at").ValueKind);
            Assert.Equal(0, job.GetProperty("frames").GetArrayLength());
        }
        finally
        {
            foreach (var blocker in blockers)
            {
                using var _ = await server.Http.PostAsync($"/v1/jobs/{blocker}/cancel", null);
            }
        }
    }

    // ---- 7.2 legacy ----

    [Fact]
    public async Task GetJobEndpointStillWorks()
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(2), ["motion_detection"]);

        using var response = await server.Http.GetAsync($"/v1/jobs/{id}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(id, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("job_id").GetGuid());
    }

    [Fact]
    public async Task GetJobReturnsJobResponse()
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(3), ["motion_detection", "ball_detection"]);

        var job = await server.GetJsonAsync($"/v1/jobs/{id}");

        Assert.Equal(id, job.GetProperty("job_id").GetGuid());
        Assert.Equal("cpu", job.GetProperty("device_requested").GetString());
        Assert.Equal("cpu", job.GetProperty("device_used").GetString());
        Assert.False(job.GetProperty("fallback").GetBoolean());
        var frames = job.GetProperty("frames").EnumerateArray().ToList();
        Assert.Equal([1, 2, 3], frames.Select(f => f.GetProperty("index").GetInt32()));
        Assert.Equal([JobMessageAssert.FrameId(1), JobMessageAssert.FrameId(2), JobMessageAssert.FrameId(3)],
            frames.Select(f => f.GetProperty("frame_id").GetString()));
        foreach (var frame in frames)
        {
            Assert.Equal(["frame_id", "index", "results", "timestamp_ms"], Names(frame));
            Assert.True(frame.GetProperty("timestamp_ms").GetDouble() > 0);
            Assert.Equal(["ball_detection", "motion_detection"], Names(frame.GetProperty("results")));
        }
    }

    [Fact]
    public async Task GetJobNoExtendedFields()
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(1), ["frame_quality"]);

        var job = await server.GetJsonAsync($"/v1/jobs/{id}");

        Assert.Equal(LegacyFields, Names(job));
        foreach (var extended in new[] { "progress", "plugin_timings", "warnings", "status", "error", "created_at" })
        {
            Assert.False(job.TryGetProperty(extended, out _), $"the legacy model grew '{extended}'");
        }
    }

    // ---- 7.3 with realtime ----

    [Fact]
    public async Task JobWithRealtimeIntegration()
    {
        string[] plugins = ["motion_detection", "ball_detection"];
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(40, fps: 20), plugins);
        var (client, _) = await server.ConnectWelcomedAsync($"job_id={id}");
        await using var owned = client;

        var messages = await client.ReceiveUntilAsync(m => m.IsEndOf(id), TimeSpan.FromSeconds(30));
        var job = await server.GetJsonAsync($"/v1/jobs/{id}/extended");

        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.Equal(100, job.GetProperty("progress").GetInt32());
        Assert.Equal(plugins.Order(StringComparer.Ordinal), Names(job.GetProperty("plugin_timings")));
        Assert.Equal(40, job.GetProperty("frames").GetArrayLength());
        Assert.NotEqual(JsonValueKind.Null, job.GetProperty("completed_at").ValueKind);

        // What the subscriber saw is what the model recorded.
        var stored = job.GetProperty("frames").EnumerateArray().ToDictionary(f => f.GetProperty("frame_id").GetString()!, f => f.GetProperty("results"));
        var frames = messages.Where(m => m.Type == "frame").ToList();
        Assert.NotEmpty(frames);
        foreach (var frame in frames)
        {
            Assert.True(JsonElement.DeepEquals(stored[frame.Str("frame_id")!].GetProperty(frame.Str("plugin")!), frame.Payload.GetProperty("data")), frame.Raw);
        }
    }

    [Fact]
    public async Task JobProgressUpdatesInExtendedModel()
    {
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(30, fps: 15), ["motion_detection"]);
        var (client, _) = await server.ConnectWelcomedAsync($"job_id={id}");
        await using var owned = client;
        var checkedValues = new List<(int Message, int Model)>();

        // Each progress message is already reflected in the model when it arrives (state is recorded before it is relayed).
        while (true)
        {
            var message = (await client.ReceiveUntilAsync(m => m.Type == "progress" && m.IsFor(id), TimeSpan.FromSeconds(30)))[^1];
            var progress = message.Payload.GetProperty("progress").GetInt32();
            var model = (await server.GetJsonAsync($"/v1/jobs/{id}/extended")).GetProperty("progress").GetInt32();
            checkedValues.Add((progress, model));
            Assert.True(model >= progress, $"the message says {progress}%, the model {model}%");
            if (message.IsEndOf(id))
            {
                break;
            }
        }

        Assert.Contains(checkedValues, c => c.Message is > 0 and < 100);
        Assert.Equal((100, 100), checkedValues[^1]);
    }

    [Fact]
    public async Task JobTimingsUpdateInExtendedModel()
    {
        string[] plugins = ["ball_detection", "frame_quality"];
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(30, fps: 15), plugins);
        var (client, _) = await server.ConnectWelcomedAsync($"job_id={id}");
        await using var owned = client;

        // Mid-run: after a frame was analysed, the model already has running totals.
        await client.ReceiveUntilAsync(m => m.Type == "frame" && m.IsFor(id), TimeSpan.FromSeconds(30));
        var midRun = await server.GetJsonAsync($"/v1/jobs/{id}/extended");
        Assert.Equal("running", midRun.GetProperty("status").GetString());
        Assert.True(midRun.GetProperty("plugin_timings").TryGetProperty("ball_detection", out var first) && first.GetDouble() >= 0, midRun.ToString());

        // At the end: the plugin_status totals are the model's timings (one decimal).
        var rest = await client.ReceiveUntilAsync(m => m.IsEndOf(id), TimeSpan.FromSeconds(30));
        var completed = rest.Where(m => m.Type == "plugin_status" && m.Str("status") == "completed").ToDictionary(m => m.Str("plugin")!);
        var timings = (await server.GetJsonAsync($"/v1/jobs/{id}/extended")).GetProperty("plugin_timings");
        Assert.Equal(plugins.Order(StringComparer.Ordinal), completed.Keys.Order(StringComparer.Ordinal));
        foreach (var plugin in plugins)
        {
            var total = completed[plugin].Payload.GetProperty("timing_ms").GetDouble();
            Assert.Equal(Math.Round(total, 1), timings.GetProperty(plugin).GetDouble());
            if (midRun.GetProperty("plugin_timings").TryGetProperty(plugin, out var before))
            {
                Assert.True(timings.GetProperty(plugin).GetDouble() >= before.GetDouble());
            }
        }
    }

    private static string[] Names(JsonElement element) => element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
}
