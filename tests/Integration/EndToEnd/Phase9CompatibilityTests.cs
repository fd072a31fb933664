using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.EndToEnd;

/// <summary>Phase 9 clients keep working (matrix §8.2): the legacy shape, the same results, no realtime needed.</summary>
public sealed class Phase9CompatibilityTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly string[] DeterministicPlugins = ["ball_detection", "motion_detection", "pitch_detection", "frame_quality"];

    [Fact]
    public async Task Phase9JobEndpointStillWorks()
    {
        // The phase 9 flow, using only what phase 9 had: POST, then GET the Location until the frames are in.
        using var response = await server.Http.PostAsJsonAsync(
            "/v1/jobs", new { source = ServerFixture.Synthetic(4), device_requested = "cpu", plugins = new[] { "motion_detection" } });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.OriginalString;
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(5, accepted.EnumerateObject().Count());

        JsonElement job = default;
        await ServerFixture.WaitUntilAsync(
            async () => (job = await server.GetJsonAsync(location)).GetProperty("frames").GetArrayLength() == 4,
            TimeSpan.FromSeconds(30), "the frames never arrived on the legacy endpoint");

        Assert.Equal(["device_requested", "device_used", "fallback", "frames", "job_id"], job.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(accepted.GetProperty("job_id").GetString(), job.GetProperty("job_id").GetString());
        Assert.All(job.GetProperty("frames").EnumerateArray(), f =>
            Assert.Equal(["frame_id", "index", "results", "timestamp_ms"], f.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task Phase9AnalysisResultsUnchanged()
    {
        var source = ServerFixture.Synthetic(6, seed: 42);

        // Once with nobody listening ...
        await WaitForNoSubscribersAsync();
        var (quiet, _) = await server.RunJobAsync(source, DeterministicPlugins);

        // ... and once watched by two subscribers (one for everything, one for the job).
        var (everything, _) = await server.ConnectWelcomedAsync();
        await using var ownedEverything = everything;
        var watchedId = await server.SubmitJobAsync(source, DeterministicPlugins);
        var (follower, _) = await server.ConnectWelcomedAsync($"job_id={watchedId}");
        await using var ownedFollower = follower;
        var streamed = await everything.ReceiveJobAsync(watchedId);
        await server.WaitForStatusAsync(watchedId, TimeSpan.FromSeconds(30), "completed");

        var without = (await server.GetJsonAsync($"/v1/jobs/{quiet}")).GetProperty("frames");
        var with = (await server.GetJsonAsync($"/v1/jobs/{watchedId}")).GetProperty("frames");
        Assert.Equal(6, without.GetArrayLength());
        Assert.True(JsonElement.DeepEquals(without, with), $"results differ:\n{without}\n{with}");

        // And what was streamed is those same results.
        foreach (var frame in streamed.Where(m => m.Type == "frame"))
        {
            var stored = without.EnumerateArray().Single(f => f.GetProperty("frame_id").GetString() == frame.Str("frame_id"));
            Assert.True(JsonElement.DeepEquals(stored.GetProperty("results").GetProperty(frame.Str("plugin")!), frame.Payload.GetProperty("data")));
        }
    }

    [Fact]
    public async Task Phase9NoMandatoryRealtime()
    {
        await WaitForNoSubscribersAsync();

        var (id, job) = await server.RunJobAsync(ServerFixture.Synthetic(5), ["motion_detection", "frame_quality"]);

        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.Equal(100, job.GetProperty("progress").GetInt32());
        Assert.Equal(5, (await server.GetJsonAsync($"/v1/jobs/{id}")).GetProperty("frames").GetArrayLength());
        Assert.Equal(0, (await server.GetStatsAsync()).GetProperty("open").GetInt32());
    }

    private Task WaitForNoSubscribersAsync() =>
        ServerFixture.WaitUntilAsync(
            async () => (await server.GetStatsAsync()).GetProperty("open").GetInt32() == 0, TimeSpan.FromSeconds(10),
            "a realtime connection is still open; the run would not be without realtime");
}
