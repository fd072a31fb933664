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
            await using var watcher = await server.ConnectAsync();
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
}
