using System.Net;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>The whole server on <c>Storage:Provider=postgres</c>: migrations at start, a job end to end, a restart.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresServerTests(PostgresContainer postgres)
{
    [SkippableFact]
    public async Task Server_OnPostgres_RunsAJobEndToEndAndKeepsItAcrossARestart()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "postgres", ["ConnectionStrings:Jobs"] = await postgres.CreateDatabaseAsync(),
        };
        var server = await ServerFixture.StartAsync(settings);
        Guid job;
        try
        {
            // Welcomed = registered: it cannot miss the job's first messages.
            var (watcher, _) = await server.ConnectWelcomedAsync();
            await using var watching = watcher;
            (job, var state) = await server.RunJobAsync(ServerFixture.Synthetic(4, width: 64, height: 64), ["frame_quality", "motion_detection"]);

            Assert.Equal("completed", state.GetProperty("status").GetString());
            var messages = await watcher.ReceiveJobAsync(job);
            Assert.Equal(4 * 2, messages.Count(m => m.Type == "frame"));
            using var ready = await server.Http.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            await server.StopAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        await using var restarted = await ServerFixture.StartAsync(settings, root: server.Root);
        var legacy = await restarted.GetJsonAsync($"/v1/jobs/{job}");
        Assert.Equal(4, legacy.GetProperty("frames").GetArrayLength());
        var page = await restarted.GetJsonAsync($"/v1/jobs/{job}/frames?offset=2&limit=1");
        Assert.Equal(3, page.GetProperty("items")[0].GetProperty("index").GetInt32());
        var list = await restarted.GetJsonAsync("/v1/jobs?status=completed");
        Assert.Equal(job, Assert.Single(list.GetProperty("items").EnumerateArray()).GetProperty("job_id").GetGuid());
    }

    [SkippableFact]
    public async Task Server_WhenPostgresStalls_IsNotReadyThenReadyAgainAndLosesNothing()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "postgres", ["ConnectionStrings:Jobs"] = await postgres.CreateDatabaseAsync(),
        });
        var (before, _) = await server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);

        await postgres.PauseAsync();
        try
        {
            using var stalled = await server.Http.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, stalled.StatusCode);
        }
        finally
        {
            await postgres.UnpauseAsync();
        }

        await ServerFixture.WaitUntilAsync(
            async () =>
            {
                using var ready = await server.Http.GetAsync("/health/ready");
                return ready.StatusCode == HttpStatusCode.OK;
            },
            TimeSpan.FromSeconds(30),
            "the server did not become ready again after PostgreSQL came back");
        Assert.Equal("completed", (await server.GetJsonAsync($"/v1/jobs/{before}/extended")).GetProperty("status").GetString());
        var (after, state) = await server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);
        Assert.Equal("completed", state.GetProperty("status").GetString());
        Assert.NotEqual(before, after);
    }
}
