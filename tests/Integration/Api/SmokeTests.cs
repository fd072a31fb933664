using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

public sealed class SmokeTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task SyntheticJob_RunsToCompletion_WithEveryFrameAndPlugin()
    {
        var id = await server.SubmitJobAsync("synthetic:pitch?frames=5&width=320&height=240", ["ball_detection", "frame_quality"]);

        var job = await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(60), "completed", "failed");

        Assert.Equal("completed", job.GetProperty("status").GetString());
        Assert.Equal(5, job.GetProperty("frames").GetArrayLength());
        foreach (var frame in job.GetProperty("frames").EnumerateArray())
        {
            Assert.True(frame.GetProperty("results").TryGetProperty("ball_detection", out _));
            Assert.True(frame.GetProperty("results").TryGetProperty("frame_quality", out _));
        }
    }
}
