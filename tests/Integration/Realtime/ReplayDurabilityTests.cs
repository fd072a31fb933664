using System.Net;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Realtime;

/// <summary>API.md §3.8: a finished job's log survives a restart, and is purged after <c>Realtime:ReplayRetention</c>.</summary>
public sealed class ReplayDurabilityTests
{
    [Fact]
    public async Task Restart_AfterAJobFinished_SinceZeroStillReplaysAllOfIt()
    {
        var first = await ServerFixture.StartAsync();
        ServerFixture? second = null;
        try
        {
            var (early, _) = await first.ConnectWelcomedAsync();
            var id = await first.SubmitJobAsync(ServerFixture.Synthetic(25), ["frame_quality", "motion_detection"]);
            var live = await early.ReceiveJobAsync(id, TimeSpan.FromSeconds(30));
            await early.DisposeAsync();
            await first.WaitForStatusAsync(id, TimeSpan.FromSeconds(10), "completed");

            await first.StopAsync();
            second = await ServerFixture.StartAsync(root: first.Root);
            var (client, _) = await second.ConnectWelcomedAsync($"job_id={id}&since=0");
            await using var owned = client;
            var replayed = await client.ReceiveJobAsync(id, TimeSpan.FromSeconds(10));

            Assert.Equal(live.Select(m => m.Raw), replayed.Select(m => m.Raw));
            Assert.Equal(Enumerable.Range(1, live.Count).Select(i => (long?)i), replayed.Select(m => m.Seq));
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

    [Fact]
    public async Task Restart_WhileAJobRuns_ItsLogIsCompleteAndEndsWithProgress100Failed()
    {
        var first = await ServerFixture.StartAsync();
        ServerFixture? second = null;
        try
        {
            var id = await first.SubmitJobAsync(ServerFixture.Synthetic(1000, fps: 25, width: 64, height: 64), ["frame_quality"]);
            var (client, _) = await first.ConnectWelcomedAsync($"job_id={id}&since=0");
            await client.ReceiveUntilAsync(m => m.Type == "frame", TimeSpan.FromSeconds(15));
            await client.DisposeAsync();

            // Stopped as by SIGTERM: the interrupted job ends its stream before the log writer stops.
            await first.StopAsync();
            second = await ServerFixture.StartAsync(root: first.Root);
            await second.WaitForStatusAsync(id, TimeSpan.FromSeconds(10), "failed");

            var page = await second.GetJsonAsync($"/v1/jobs/{id}/events?since=0&limit=1000");
            var messages = page.GetProperty("items").EnumerateArray().Select(i => ReceivedMessage.Parse(i.GetRawText())).ToList();
            Assert.True(page.GetProperty("finished").GetBoolean());
            Assert.Equal(Enumerable.Range(1, messages.Count).Select(i => (long?)i), messages.Select(m => m.Seq));
            Assert.True(messages[^1].IsEndOf(id), messages[^1].Raw);
            Assert.Equal("failed", messages[^1].Str("stage"));
            Assert.Contains(messages, m => m.Type == "frame");
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

    [Fact]
    public async Task Retention_Expired_AnswersReplayUnavailableThenWhatIsKept()
    {
        var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Realtime:ReplayRetention"] = "00:00:00.300",
            ["Realtime:ReplayPurgeInterval"] = "00:00:00.100",
        });
        try
        {
            await AssertPurgedAsync(server);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task AssertPurgedAsync(ServerFixture server)
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(10), ["frame_quality"]);

        HttpStatusCode status = HttpStatusCode.OK;
        string body = string.Empty;
        await ServerFixture.WaitUntilAsync(
            async () =>
            {
                using var response = await server.Http.GetAsync($"/v1/jobs/{id}/events?since=0");
                (status, body) = (response.StatusCode, await response.Content.ReadAsStringAsync());
                return status == HttpStatusCode.Gone;
            },
            TimeSpan.FromSeconds(10), "the job's messages were never purged");

        using var problem = JsonDocument.Parse(body);
        var firstKept = problem.RootElement.GetProperty("first_seq").GetInt64();
        Assert.True(firstKept > 1);
        Assert.Equal("REPLAY_UNAVAILABLE", problem.RootElement.GetProperty("error_code").GetString());

        var (client, welcome) = await server.ConnectWelcomedAsync($"job_id={id}&since=0");
        await using var owned = client;
        var error = await client.ReceiveAsync(TimeSpan.FromSeconds(5));
        var kept = await client.ReceiveAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("error", error!.Type);
        Assert.Null(error.Seq);
        Assert.Equal("REPLAY_UNAVAILABLE", error.Payload.GetProperty("details").GetProperty("error_code").GetString());
        Assert.Contains(firstKept.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Payload.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(firstKept, kept!.Seq);
        Assert.True(kept.IsEndOf(id));

        // Resuming from what is kept is still exact.
        var rest = await server.GetJsonAsync($"/v1/jobs/{id}/events?since={firstKept - 1}");
        Assert.Equal(kept.Raw, Assert.Single(rest.GetProperty("items").EnumerateArray()).GetRawText());
        Assert.True(rest.GetProperty("finished").GetBoolean());
    }
}
