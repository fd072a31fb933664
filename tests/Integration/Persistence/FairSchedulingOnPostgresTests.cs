using CleanRealtime.IntegrationTests.Api;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>
/// The per-client running cap and round-robin claims on the shared PostgreSQL queue: the cap counts a client's jobs on
/// every node, and claims from several nodes are serialized so that none takes a client's last free place twice.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FairSchedulingOnPostgresTests(PostgresContainer postgres)
{
    [SkippableFact]
    public async Task RunningCap_AcrossTwoWorkerNodes_OneClientRunsOneJobWhileAnotherClientIsServed()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var api = await NodeAsync(database, "api");
        await using var first = await NodeAsync(database, "worker");
        await using var second = await NodeAsync(database, "worker");

        await FairScheduling.RunningCapHoldsAsync(api);
    }

    [SkippableFact]
    public async Task NextJob_AfterOneClientQueuedMany_IsTheNewcomersBeforeThatClientsThird()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var server = await NodeAsync(database, "api,worker", workers: "1");

        await FairScheduling.NewcomerIsServedNextRoundAsync(server);
    }

    private static Task<ServerFixture> NodeAsync(string database, string roles, string workers = "2") =>
        ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "postgres", ["ConnectionStrings:Jobs"] = database, ["Node:Roles"] = roles,
            ["Jobs:MaxConcurrentJobs"] = workers, ["Jobs:MaxRunningJobsPerClient"] = "1", ["Auth:ApiKeys"] = "key-a,key-b",
        });
}
