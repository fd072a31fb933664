using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Realtime;

/// <summary>
/// What a subscriber sees when a job does not simply complete (API.md §3.3): cancelled while running or while queued,
/// and a device fallback. One worker lane, so a job can be held in the queue behind a paced one.
/// </summary>
public sealed class JobEventsTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public async Task InitializeAsync() =>
        _server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Jobs:MaxConcurrentJobs"] = "1" });

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Cancel_RunningJob_SubscriberSeesPluginStatusesThenProgress100Cancelled()
    {
        string[] plugins = ["motion_detection", "frame_quality"];
        var id = await _server.SubmitJobAsync(ServerFixture.Synthetic(400, fps: 20), plugins);
        var (client, _) = await _server.ConnectWelcomedAsync($"job_id={id}");
        await using var owned = client;
        await client.ReceiveUntilAsync(m => m.Type == "frame" && m.IsFor(id), TimeSpan.FromSeconds(15));

        using var response = await _server.Http.PostAsync($"/v1/jobs/{id}/cancel", null);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        var rest = await client.ReceiveUntilAsync(m => m.IsEndOf(id), TimeSpan.FromSeconds(10));

        Assert.Equal("cancelled", rest[^1].Str("stage"));
        var tail = rest.Where(m => m.Type == "plugin_status").ToList();
        Assert.Equal(plugins, tail.Select(m => m.Str("plugin")));
        Assert.All(tail, m => Assert.Contains(m.Str("status"), new[] { "completed", "failed" }));
        var frames = rest.Count(m => m.Type == "frame");
        Assert.True(frames < 2 * 200, $"the job went on after the cancel: {frames} frame messages");
        Assert.Equal("cancelled", (await _server.GetJsonAsync($"/v1/jobs/{id}/extended")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Cancel_QueuedJob_Returns202AndSubscriberSeesProgress100Cancelled()
    {
        var blocker = await _server.SubmitJobAsync(ServerFixture.Synthetic(1000, fps: 25), ["motion_detection"]);
        try
        {
            var queued = await _server.SubmitJobAsync(ServerFixture.Synthetic(2), ["motion_detection"]);
            var (client, _) = await _server.ConnectWelcomedAsync($"job_id={queued}");
            await using var owned = client;
            Assert.Equal("queued", (await _server.GetJsonAsync($"/v1/jobs/{queued}/extended")).GetProperty("status").GetString());

            using var response = await _server.Http.PostAsync($"/v1/jobs/{queued}/cancel", null);

            Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal("cancelled", (await _server.GetJsonAsync($"/v1/jobs/{queued}/extended")).GetProperty("status").GetString());

            // A subscriber waiting for the job learns that it ended (else it would wait forever).
            var end = await client.ReceiveUntilAsync(m => m.IsEndOf(queued), TimeSpan.FromSeconds(5));
            Assert.Equal("cancelled", end[^1].Str("stage"));
        }
        finally
        {
            using var _ = await _server.Http.PostAsync($"/v1/jobs/{blocker}/cancel", null);
        }
    }

    [Fact]
    public async Task Cancel_QueuedJob_Returns202AndIsCancelledWithoutRunning()
    {
        var blocker = await _server.SubmitJobAsync(ServerFixture.Synthetic(1000, fps: 25), ["motion_detection"]);
        try
        {
            var queued = await _server.SubmitJobAsync(ServerFixture.Synthetic(2), ["motion_detection"]);
            Assert.Equal("queued", (await _server.GetJsonAsync($"/v1/jobs/{queued}/extended")).GetProperty("status").GetString());

            using var response = await _server.Http.PostAsync($"/v1/jobs/{queued}/cancel", null);

            Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
            using (var again = await _server.Http.PostAsync($"/v1/jobs/{blocker}/cancel", null))
            {
                Assert.Equal(System.Net.HttpStatusCode.Accepted, again.StatusCode);
            }

            // Once the lane is free the queued job is skipped, not run.
            await _server.WaitForStatusAsync(blocker, TimeSpan.FromSeconds(10), "cancelled");
            var job = await _server.WaitForStatusAsync(queued, TimeSpan.FromSeconds(5), "cancelled");
            Assert.Equal(JsonValueKind.Null, job.GetProperty("started_at").ValueKind);
            Assert.Equal(0, job.GetProperty("frames").GetArrayLength());
            var next = await _server.RunJobAsync(ServerFixture.Synthetic(1), ["motion_detection"]);
            Assert.Equal("cancelled", (await _server.GetJsonAsync($"/v1/jobs/{queued}/extended")).GetProperty("status").GetString());
            Assert.Equal("completed", next.Job.GetProperty("status").GetString());
        }
        finally
        {
            using var _ = await _server.Http.PostAsync($"/v1/jobs/{blocker}/cancel", null);
        }
    }

    [Fact]
    public async Task GpuFallback_SubscriberReceivesDeviceUnavailableErrorWithFallback()
    {
        var (client, _) = await _server.ConnectWelcomedAsync();
        await using var owned = client;

        var id = await _server.SubmitJobAsync(ServerFixture.Synthetic(2), ["motion_detection"], device: "gpu");
        var messages = await client.ReceiveJobAsync(id);

        var error = Assert.Single(messages, m => m.Type == "error");
        var details = error.Payload.GetProperty("details");
        Assert.Equal("DEVICE_UNAVAILABLE", details.GetProperty("error_code").GetString());
        Assert.True(details.GetProperty("fallback").GetBoolean());
        Assert.Equal("completed", messages[^1].Str("stage"));
        Assert.All(messages.Where(m => m.Type == "frame"), m => Assert.Equal("cpu", m.Str("device_used")));
    }
}

/// <summary>A plugin that fails (here: over a tiny <c>Jobs:PluginTimeout</c>) is reported, and a job left without plugins fails.</summary>
public sealed class PluginFailureTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public async Task InitializeAsync() =>
        _server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Jobs:PluginTimeout"] = "00:00:00.0000100" });

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task PluginTimeout_SubscriberGetsErrorAndFailedStatus_JobFailsWithReason()
    {
        var (client, _) = await _server.ConnectWelcomedAsync();
        await using var owned = client;

        var id = await _server.SubmitJobAsync(ServerFixture.Synthetic(3), ["motion_detection"]);
        var messages = await client.ReceiveJobAsync(id);

        Assert.Equal(
            ["progress", "plugin_status", "frame", "error", "plugin_status", "progress", "progress"],
            messages.Select(m => m.Type));
        var error = messages[3];
        Assert.Equal("motion_detection", error.Str("plugin"));
        Assert.Equal(JobMessageAssert.FrameId(1), error.Str("frame_id"));
        Assert.Equal("PLUGIN_TIMEOUT", error.Payload.GetProperty("details").GetProperty("error_code").GetString());
        Assert.Equal("failed", messages[4].Str("status"));
        Assert.Equal(1, messages[4].Payload.GetProperty("frames_processed").GetInt32());
        Assert.Equal("failed", messages[^1].Str("stage"));

        var job = await _server.WaitForStatusAsync(id, TimeSpan.FromSeconds(10), "failed");
        Assert.Contains("motion_detection", job.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains(job.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("PLUGIN_TIMEOUT", StringComparison.Ordinal));
        Assert.Equal(1, job.GetProperty("frames").GetArrayLength());
    }
}
