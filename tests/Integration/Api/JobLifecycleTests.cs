using System.Net;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary>Jobs over REST beyond creation (API.md §2.2–2.4): unknown ids, cancelling, listing, device fallback, bad media.</summary>
public sealed class JobLifecycleTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Theory]
    [InlineData("GET", "/v1/jobs/{0}")]
    [InlineData("GET", "/v1/jobs/{0}/extended")]
    [InlineData("POST", "/v1/jobs/{0}/cancel")]
    public async Task UnknownJobId_Returns404Problem(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), string.Format(System.Globalization.CultureInfo.InvariantCulture, path, Guid.NewGuid()));

        using var response = await server.Http.SendAsync(request);

        var problem = await JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task Cancel_FinishedJob_Returns409Problem()
    {
        var (id, job) = await server.RunJobAsync(ServerFixture.Synthetic(1), ["motion_detection"]);
        Assert.Equal("completed", job.GetProperty("status").GetString());

        using var response = await server.Http.PostAsync($"/v1/jobs/{id}/cancel", null);

        await JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Equal("completed", (await server.GetJsonAsync($"/v1/jobs/{id}/extended")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Cancel_RunningPacedJob_Returns202ThenCancelledAndStopsEarly()
    {
        const int Frames = 200;
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(Frames, fps: 20), ["motion_detection"]);
        await ServerFixture.WaitUntilAsync(
            async () => (await server.GetJsonAsync($"/v1/jobs/{id}")).GetProperty("frames").GetArrayLength() >= 2,
            TimeSpan.FromSeconds(15), "the job did not start analysing frames");

        using var response = await server.Http.PostAsync($"/v1/jobs/{id}/cancel", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(10), "cancelled", "completed", "failed");
        Assert.Equal("cancelled", job.GetProperty("status").GetString());
        var frames = job.GetProperty("frames").GetArrayLength();
        Assert.InRange(frames, 2, Frames / 2);
        Assert.NotEqual(JsonValueKind.Null, job.GetProperty("completed_at").ValueKind);

        // It stays stopped: its stream has ended with the cancel, and no frame is added afterwards. A job that went on
        // would add a frame every 50 ms (it is paced at 20 fps) with no signal to wait for, so the absence is checked
        // over 300 ms, six frame periods.
        var events = await server.GetJsonAsync($"/v1/jobs/{id}/events?since=0&limit=1000");
        Assert.True(events.GetProperty("finished").GetBoolean());
        var end = ReceivedMessage.Parse(events.GetProperty("items").EnumerateArray().Last().GetRawText());
        Assert.True(end.IsEndOf(id) && end.Str("stage") == "cancelled", end.Raw);
        await Task.Delay(300);
        Assert.Equal(frames, (await server.GetJsonAsync($"/v1/jobs/{id}")).GetProperty("frames").GetArrayLength());
    }

    [Fact]
    public async Task List_WithLimitAndCursor_PagesNewestFirstWithoutFrames()
    {
        var mine = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            mine.Add((await server.RunJobAsync(ServerFixture.Synthetic(1), ["motion_detection"])).Id);
        }

        var listed = new List<JsonElement>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await server.GetJsonAsync("/v1/jobs?limit=2" + (cursor is null ? string.Empty : $"&cursor={Uri.EscapeDataString(cursor)}"));
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.InRange(items.Count, 1, 2);
            listed.AddRange(items);
            cursor = page.GetProperty("next_cursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 50);

        Assert.True(pages >= 2, "3 jobs at 2 a page make at least two pages");
        var ids = listed.Select(j => j.GetProperty("job_id").GetGuid()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(Enumerable.Reverse(mine), ids.Where(mine.Contains));
        var created = listed.Select(j => j.GetProperty("created_at").GetDateTime()).ToList();
        Assert.Equal(created.OrderDescending(), created);
        Assert.All(listed, j => Assert.False(j.TryGetProperty("frames", out _), "the list leaves frames out"));
        Assert.All(listed, j => Assert.True(j.TryGetProperty("status", out _) && j.TryGetProperty("progress", out _)));
    }

    [Fact]
    public async Task List_DefaultLimit_IsTwenty()
    {
        // A server of its own holding 25 jobs: more than the default page, fewer than the largest one.
        var own = await ServerFixture.StartAsync();
        try
        {
            var submitted = new List<Guid>();
            for (var i = 0; i < 25; i++)
            {
                submitted.Add(await own.SubmitJobAsync(ServerFixture.Synthetic(1, width: 64, height: 64), ["frame_quality"]));
            }

            // Without a limit: the 20 newest, and a cursor to the other 5.
            var page = await own.GetJsonAsync("/v1/jobs");
            Assert.Equal(20, page.GetProperty("items").GetArrayLength());
            var cursor = page.GetProperty("next_cursor").GetString();
            Assert.NotNull(cursor);
            var rest = await own.GetJsonAsync($"/v1/jobs?cursor={Uri.EscapeDataString(cursor)}");
            var all = await own.GetJsonAsync("/v1/jobs?limit=100");

            Assert.Equal(5, rest.GetProperty("items").GetArrayLength());
            Assert.Equal(JsonValueKind.Null, rest.GetProperty("next_cursor").ValueKind);
            var listed = page.GetProperty("items").EnumerateArray().Concat(rest.GetProperty("items").EnumerateArray())
                .Select(j => j.GetProperty("job_id").GetGuid()).ToList();
            Assert.Equal(submitted.Order(), listed.Order());
            Assert.Equal(25, all.GetProperty("items").GetArrayLength());
        }
        finally
        {
            await own.DisposeAsync();
        }
    }

    [Fact]
    public async Task List_WithStatusFilter_ReturnsOnlyThatStatus()
    {
        var (done, _) = await server.RunJobAsync(ServerFixture.Synthetic(1), ["motion_detection"]);
        var bad = server.WriteMedia($"bad-{Guid.NewGuid():N}.mp4", TestMedia.Garbage());
        var (failed, _) = await server.RunJobAsync(bad, ["motion_detection"]);

        // The list filters on the stored status, which the job's final save writes just after its live state ends.
        List<System.Text.Json.JsonElement> completed = [], failedOnes = [];
        await ServerFixture.WaitUntilAsync(
            async () =>
            {
                completed = (await server.GetJsonAsync("/v1/jobs?status=completed&limit=100")).GetProperty("items").EnumerateArray().ToList();
                failedOnes = (await server.GetJsonAsync("/v1/jobs?status=failed&limit=100")).GetProperty("items").EnumerateArray().ToList();
                return completed.Any(j => j.GetProperty("job_id").GetGuid() == done) && failedOnes.Any(j => j.GetProperty("job_id").GetGuid() == failed);
            },
            TimeSpan.FromSeconds(10),
            "the finished jobs were not listed under their status");

        Assert.All(completed, j => Assert.Equal("completed", j.GetProperty("status").GetString()));
        Assert.All(failedOnes, j => Assert.Equal("failed", j.GetProperty("status").GetString()));
        Assert.Contains(completed, j => j.GetProperty("job_id").GetGuid() == done);
        Assert.Contains(failedOnes, j => j.GetProperty("job_id").GetGuid() == failed);
        Assert.DoesNotContain(completed, j => j.GetProperty("job_id").GetGuid() == failed);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("limit=-5", "limit")]
    [InlineData("status=finished", "status")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    public async Task List_InvalidQuery_Returns400NamingParameter(string query, string field)
    {
        using var response = await server.Http.GetAsync($"/v1/jobs?{query}");

        var problem = await JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task List_NonNumericLimit_Returns400Problem()
    {
        using var response = await server.Http.GetAsync("/v1/jobs?limit=abc");

        await JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Create_GpuRequestedWithoutCuda_FallsBackToCpuWithDeviceWarning()
    {
        var devices = await server.GetJsonAsync("/v1/devices");
        Assert.False(devices.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("name").GetString() == "gpu").GetProperty("available").GetBoolean(),
            "this test assumes a machine without CUDA");

        using var response = await server.Http.PostAsync("/v1/jobs", JsonContent(
            new { source = ServerFixture.Synthetic(2), device_requested = "gpu", plugins = new[] { "motion_detection" } }));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("gpu", accepted.GetProperty("device_requested").GetString());
        Assert.Equal("cpu", accepted.GetProperty("device_used").GetString());
        Assert.True(accepted.GetProperty("fallback").GetBoolean());
        var id = accepted.GetProperty("job_id").GetGuid();

        var job = await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(30), "completed", "failed");
        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.True(job.GetProperty("fallback").GetBoolean());
        Assert.Contains(job.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("DEVICE_UNAVAILABLE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_AutoDeviceWithoutCuda_RunsOnCpuWithoutFallback()
    {
        using var response = await server.Http.PostAsync("/v1/jobs", JsonContent(
            new { source = ServerFixture.Synthetic(1), device_requested = "auto", plugins = new[] { "motion_detection" } }));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("cpu", accepted.GetProperty("device_used").GetString());
        Assert.False(accepted.GetProperty("fallback").GetBoolean());
    }

    [Fact]
    public async Task CorruptMediaFile_JobFailsWithSourceUnreadable_ServerStaysHealthy()
    {
        var source = server.WriteMedia($"bad-{Guid.NewGuid():N}.mp4", TestMedia.Garbage());

        var (_, job) = await server.RunJobAsync(source, ["motion_detection", "frame_quality"]);

        Assert.Equal("failed", job.GetProperty("status").GetString());
        Assert.Contains("SOURCE_UNREADABLE", job.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(server.MediaRoot, job.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, job.GetProperty("frames").GetArrayLength());

        using var ready = await server.Http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var (_, next) = await server.RunJobAsync(ServerFixture.Synthetic(2), ["motion_detection"]);
        Assert.Equal("completed", next.GetProperty("status").GetString());
    }

    private static StringContent JsonContent(object body) =>
        new(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
}
