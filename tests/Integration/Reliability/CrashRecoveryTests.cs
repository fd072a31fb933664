using System.Net.Http.Json;
using System.Text.Json;

namespace CleanRealtime.IntegrationTests.Reliability;

public sealed class CrashRecoveryTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", "crash-" + Guid.NewGuid().ToString("N"));

    public CrashRecoveryTests() => Directory.CreateDirectory(_root);

    [Fact]
    public async Task ServerKilledMidJob_EveryAcceptedJobIsFinishedOrFailedWithAReason()
    {
        Guid running, queued;
        await using (var server = await ServerProcess.StartAsync(_root, "--Jobs:MaxConcurrentJobs=1"))
        {
            // A paced 60 s job holds the only lane; the second one waits in the queue.
            running = await SubmitAsync(server, "synthetic:pitch?frames=600&fps=10&width=64&height=64");
            queued = await SubmitAsync(server, "synthetic:pitch?frames=3&width=64&height=64");
            await PollAsync(server, running, j => j.GetProperty("status").GetString() == "running" && j.GetProperty("progress").GetInt32() >= 1);

            server.Kill();
        }

        await using (var restarted = await ServerProcess.StartAsync(_root, "--Jobs:MaxConcurrentJobs=1"))
        {
            var interrupted = await PollAsync(restarted, running, j => j.GetProperty("status").GetString() != "running");
            var finished = await PollAsync(restarted, queued, j => j.GetProperty("status").GetString() == "completed");

            Assert.Equal("failed", interrupted.GetProperty("status").GetString());
            Assert.Contains("server stopped while the job was running", interrupted.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.NotEqual(JsonValueKind.Null, interrupted.GetProperty("completed_at").ValueKind);
            Assert.Equal(3, finished.GetProperty("frames").GetArrayLength());

            // The interrupted job's event log keeps what was written before the kill, gap-free, and is ended by the
            // recovery: an error WORKER_LOST, then progress 100 failed.
            var events = await restarted.Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{running}/events?since=0&limit=1000");
            var items = events.GetProperty("items").EnumerateArray().ToList();
            Assert.True(events.GetProperty("finished").GetBoolean());
            Assert.Equal(Enumerable.Range(1, items.Count).Select(i => (long)i), items.Select(i => i.GetProperty("seq").GetInt64()));
            Assert.Equal("WORKER_LOST", items[^2].GetProperty("payload").GetProperty("details").GetProperty("error_code").GetString());
            Assert.Equal("failed", items[^1].GetProperty("payload").GetProperty("stage").GetString());
            Assert.Equal(100, items[^1].GetProperty("payload").GetProperty("progress").GetInt32());

            // Its frames analysed after the last checkpoint were only in the log: added to its stored frames, so /frames
            // and the log agree.
            var frames = await restarted.Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{running}/frames?limit=1");
            var loggedFrames = items.Where(i => i.GetProperty("type").GetString() == "frame")
                .Select(i => i.GetProperty("payload").GetProperty("frame_id").GetString()).Distinct().Count();
            Assert.True(loggedFrames > 0, "the job was killed after it analysed frames");
            Assert.Equal(loggedFrames, frames.GetProperty("total").GetInt32());

            var listed = await restarted.Http.GetFromJsonAsync<JsonElement>("/v1/jobs?limit=100");
            var ids = listed.GetProperty("items").EnumerateArray().Select(j => j.GetProperty("job_id").GetGuid()).ToList();
            Assert.Contains(running, ids);
            Assert.Contains(queued, ids);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS temp cleaner.
        }
    }

    private static async Task<Guid> SubmitAsync(ServerProcess server, string source)
    {
        using var response = await server.Http.PostAsJsonAsync("/v1/jobs", new { source, plugins = new[] { "frame_quality" } });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetGuid();
    }

    private static async Task<JsonElement> PollAsync(ServerProcess server, Guid id, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement job;
        do
        {
            job = await server.Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}/extended");
            if (done(job))
            {
                return job;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"job {id} never reached the expected state: {job}");
        return job;
    }
}
