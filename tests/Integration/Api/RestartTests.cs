using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary>Stopping and starting the server on the same data (API.md §1: nothing accepted is silently lost).</summary>
public sealed class RestartTests
{
    [Fact]
    public async Task Restart_QueuedJobRunsAfterRestart_InterruptedJobFailsWithReason()
    {
        var settings = new Dictionary<string, string?> { ["Jobs:MaxConcurrentJobs"] = "1" };
        var first = await ServerFixture.StartAsync(settings);
        var root = first.Root;
        ServerFixture? second = null;
        try
        {
            // One lane: a slow paced job holds it, so the next job stays queued.
            var slow = await first.SubmitJobAsync(ServerFixture.Synthetic(1000, fps: 25), ["motion_detection"]);
            await ServerFixture.WaitUntilAsync(
                async () => (await first.GetJsonAsync($"/v1/jobs/{slow}/extended")).GetProperty("status").GetString() == "running",
                TimeSpan.FromSeconds(15), "the slow job did not start");
            var waiting = await first.SubmitJobAsync(ServerFixture.Synthetic(3), ["motion_detection"]);
            Assert.Equal("queued", (await first.GetJsonAsync($"/v1/jobs/{waiting}/extended")).GetProperty("status").GetString());

            await first.StopAsync();
            second = await ServerFixture.StartAsync(settings, root: root);

            var resumed = await second.WaitForStatusAsync(waiting, TimeSpan.FromSeconds(30), "completed", "failed", "cancelled");
            Assert.Equal("completed", resumed.GetProperty("status").GetString());
            Assert.Equal(3, resumed.GetProperty("frames").GetArrayLength());

            var interrupted = await second.GetJsonAsync($"/v1/jobs/{slow}/extended");
            Assert.Equal("failed", interrupted.GetProperty("status").GetString());
            Assert.Contains("server", interrupted.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.NotEqual(System.Text.Json.JsonValueKind.Null, interrupted.GetProperty("completed_at").ValueKind);
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }

            await first.DisposeAsync();
        }
    }
}
