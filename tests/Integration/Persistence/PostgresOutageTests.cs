using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;
using Npgsql;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>
/// REST during a PostgreSQL outage (issue 16): a paused server or one refusing connections is a 503 problem with
/// <c>Retry-After</c> within <c>Storage:RequestTimeout</c>, never a 500 and never a call that hangs as long as the outage.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresOutageTests(PostgresContainer postgres)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(2);

    [SkippableFact]
    public async Task PausedPostgres_ReadsAndSubmissions_Answer503InTime_ThenWorkAgain()
    {
        await using var server = await StartAsync(await postgres.CreateDatabaseAsync());
        var (job, _) = await server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);

        await postgres.PauseAsync();
        try
        {
            await AssertStoreUnavailableAsync(server, job);
        }
        finally
        {
            await postgres.UnpauseAsync();
        }

        await ServerFixture.WaitUntilAsync(
            async () => (await server.Http.GetAsync($"/v1/jobs/{job}")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "reads work again");
        var (after, state) = await server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);
        Assert.Equal("completed", state.GetProperty("status").GetString());
        Assert.NotEqual(job, after);
    }

    [SkippableFact]
    public async Task PostgresRefusingConnections_ReadsAndSubmissions_Answer503_Not500()
    {
        var connectionString = await postgres.CreateDatabaseAsync();
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await using var server = await StartAsync(connectionString);
        var (job, _) = await server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);

        await AdminAsync(connectionString, $"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false",
            $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
        try
        {
            await AssertStoreUnavailableAsync(server, job);
        }
        finally
        {
            await AdminAsync(connectionString, $"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true");
        }

        await ServerFixture.WaitUntilAsync(
            async () => (await server.Http.GetAsync($"/v1/jobs/{job}")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "reads work again");
    }

    private static Task<ServerFixture> StartAsync(string connectionString) =>
        ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "postgres", ["ConnectionStrings:Jobs"] = connectionString, ["Storage:RequestTimeout"] = "00:00:02",
        });

    private static async Task AssertStoreUnavailableAsync(ServerFixture server, Guid job)
    {
        // A job the node still holds in memory may be answered from there; one it has never seen needs the store.
        var unknown = Guid.NewGuid();
        foreach (var call in new Func<Task<HttpResponseMessage>>[]
                 {
                     () => server.Http.GetAsync($"/v1/jobs/{unknown}"),
                     () => server.Http.GetAsync($"/v1/jobs/{job}/frames?offset=0&limit=1"),
                     () => server.Http.GetAsync("/v1/jobs?limit=5"),
                     () => server.Http.PostAsJsonAsync("/v1/jobs", new { source = ServerFixture.Synthetic(2), device_requested = "cpu", plugins = new[] { "frame_quality" } }),
                 })
        {
            var clock = Stopwatch.StartNew();
            using var response = await call().WaitAsync(TimeSpan.FromSeconds(30));
            var body = await response.Content.ReadAsStringAsync();
            var what = $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri!.PathAndQuery}";
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{what} answered {(int)response.StatusCode}: {body}");
            Assert.True(clock.Elapsed < Limit + TimeSpan.FromSeconds(6), $"{what} took {clock.Elapsed} (limit {Limit})");
            Assert.True(response.Headers.RetryAfter is not null, $"{what} has no Retry-After");
            using var problem = JsonDocument.Parse(body);
            Assert.Equal("STORE_UNAVAILABLE", problem.RootElement.GetProperty("error_code").GetString());
        }
    }

    private static async Task AdminAsync(string connectionString, params string[] statements)
    {
        var admin = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false }.ConnectionString;
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
