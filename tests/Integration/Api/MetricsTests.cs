using System.Net;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary><c>GET /metrics</c> (API.md §6): Prometheus text with this server's figures only.</summary>
public sealed class MetricsTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public async Task InitializeAsync() => _server = await ServerFixture.StartAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Metrics_AfterAJob_ReportTheJobItsFramesPluginTimesAndOpenConnections()
    {
        await using var watcher = await _server.ConnectAsync();
        var (_, state) = await _server.RunJobAsync(ServerFixture.Synthetic(3, width: 64, height: 64), ["frame_quality", "motion_detection"]);
        Assert.Equal("completed", state.GetProperty("status").GetString());

        // The jobs gauge counts the store, which receives a finished job's final state just after the live job reports
        // it (once its events are logged): wait for that save instead of racing it.
        await ServerFixture.WaitUntilAsync(
            async () => (await _server.Http.GetStringAsync("/metrics")).Split('\n').Contains("cleanrealtime_jobs{status=\"completed\"} 1"),
            TimeSpan.FromSeconds(10), "the stored job counts as completed");
        using var response = await _server.Http.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        var lines = text.Split('\n');
        Assert.Contains("cleanrealtime_frames_analysed_total{plugin=\"frame_quality\"} 3", lines);
        Assert.Contains("cleanrealtime_frames_analysed_total{plugin=\"motion_detection\"} 3", lines);
        Assert.Contains("cleanrealtime_plugin_seconds_count{plugin=\"frame_quality\"} 3", lines);
        Assert.Contains("cleanrealtime_jobs{status=\"completed\"} 1", lines);
        Assert.Contains("cleanrealtime_jobs{status=\"queued\"} 0", lines);
        Assert.Contains("cleanrealtime_jobs_finished_total{status=\"completed\"} 1", lines);
        Assert.Contains("cleanrealtime_job_queue_depth 0", lines);
        Assert.Contains("cleanrealtime_realtime_connections 1", lines);

        // Every message of the job was published here and reaches the watcher; nothing is dropped; no backplane, no trips.
        var published = await _server.MetricAsync("cleanrealtime_messages_published_total");
        Assert.True(published >= 3 * 2, $"{published} messages published for 3 frames of 2 plugins");
        await ServerFixture.WaitUntilAsync(
            async () => await _server.MetricAsync("cleanrealtime_messages_delivered_total") >= published,
            TimeSpan.FromSeconds(10), "the watcher was sent every published message");
        Assert.Equal(0, await _server.MetricAsync("cleanrealtime_messages_dropped_total"));
        Assert.Equal(0, await _server.MetricAsync("cleanrealtime_backplane_publish_seconds_count"));
    }
}
