using System.Diagnostics;
using System.Net;
using CleanRealtime.IntegrationTests.Infrastructure;
using CleanRealtime.IntegrationTests.Reliability;
using CleanRealtime.IntegrationTests.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>
/// Several nodes on one PostgreSQL store, in this test process on loopback ports (and one as its own OS process, to be
/// killed): the shared queue (claims serialized by an advisory lock, see FairClaim), leases, <c>Node:Roles</c> and cancel on any node.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ClusterTests(PostgresContainer postgres)
{
    [SkippableFact]
    public async Task Cluster_JobSubmittedToAnApiNode_RunsOnAWorkerNodeAndIsReadOnBoth()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var api = await NodeAsync(database, "api");
        await using var worker = await NodeAsync(database, "worker");

        var job = await api.SubmitJobAsync(ServerFixture.Synthetic(5, width: 64, height: 64), ["frame_quality"]);
        var state = await api.WaitForStatusAsync(job, TimeSpan.FromSeconds(30), "completed", "failed");

        Assert.Equal("completed", state.GetProperty("status").GetString());
        Assert.Equal(5, state.GetProperty("frames").GetArrayLength());

        // The worker-only node serves health checks and nothing of the API.
        using var ready = await worker.Http.GetAsync("/health/ready");
        using var jobs = await worker.Http.GetAsync("/v1/jobs");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, jobs.StatusCode);
    }

    [SkippableFact]
    public async Task Cluster_JobSubmittedToAnApiNode_WakesTheIdleWorkerNodeAtOnceThroughNotify()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var api = await NodeAsync(database, "api");
        // The worker would find a job by polling only after a minute: a start within seconds came through LISTEN/NOTIFY.
        await using var worker = await NodeAsync(database, "worker", poll: "00:01:00");
        await ServerFixture.WaitUntilAsync(
            async () => (await worker.Http.GetStringAsync("/metrics")).Contains("cleanrealtime_job_queue_depth 0", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the worker node is up");

        var submitted = Stopwatch.StartNew();
        var job = await api.SubmitJobAsync(ServerFixture.Synthetic(3, width: 64, height: 64), ["frame_quality"]);
        var state = await api.WaitForStatusAsync(job, TimeSpan.FromSeconds(30), "completed", "failed");

        Assert.Equal("completed", state.GetProperty("status").GetString());
        Assert.True(submitted.Elapsed < TimeSpan.FromSeconds(20), $"the job took {submitted.Elapsed.TotalSeconds:F1} s: the worker was not woken");
        var claimed = state.GetProperty("started_at").GetDateTimeOffset() - state.GetProperty("created_at").GetDateTimeOffset();
        Assert.True(claimed < TimeSpan.FromSeconds(10), $"claimed {claimed.TotalMilliseconds:F0} ms after submission");
    }

    [SkippableFact]
    public async Task Cluster_TwentyJobsAtOnceOnTwoWorkers_EachRunsExactlyOnce()
    {
        var database = await postgres.CreateDatabaseAsync();
        var logs = new ListLoggerProvider();
        await using var api = await NodeAsync(database, "api");
        await using var first = await NodeAsync(database, "worker", logs);
        await using var second = await NodeAsync(database, "worker", logs);

        var submitted = await Task.WhenAll(Enumerable.Range(0, 20).Select(
            _ => api.SubmitJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"])));
        foreach (var job in submitted)
        {
            var state = await api.WaitForStatusAsync(job, TimeSpan.FromSeconds(60), "completed", "failed");
            Assert.Equal("completed", state.GetProperty("status").GetString());
        }

        var claims = logs.Lines.Where(l => l.Contains("claimed by worker", StringComparison.Ordinal)).ToList();
        Assert.All(submitted, job => Assert.Single(claims, l => l.Contains(job.ToString(), StringComparison.Ordinal)));
        Assert.Equal(20, claims.Count);
    }

    [SkippableFact]
    public async Task Cluster_CancelSentToAnotherNode_StopsTheRunningJobWithinASecond()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var api = await NodeAsync(database, "api");
        await using var worker = await NodeAsync(database, "worker");
        var job = await api.SubmitJobAsync(ServerFixture.Synthetic(600, fps: 20, width: 64, height: 64), ["frame_quality"]);
        await api.WaitForStatusAsync(job, TimeSpan.FromSeconds(30), "running");

        // Both nodes run in this process, on this machine's clock: the job's completed_at, which the worker stamps when
        // the job stops, is comparable with the time the cancel was sent.
        var sent = DateTimeOffset.UtcNow;
        using var cancel = await api.Http.PostAsync($"/v1/jobs/{job}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var state = await api.WaitForStatusAsync(job, TimeSpan.FromSeconds(10), "cancelled", "completed", "failed");

        Assert.Equal("cancelled", state.GetProperty("status").GetString());

        // The worker reads the flag with its lease renewal (every 0.5 s) and stops before its next frame (0.05 s at
        // 20 fps): the job stopped within a second of the cancel, at most ~20 frames later.
        var stopped = state.GetProperty("completed_at").GetDateTimeOffset() - sent;
        Assert.True(stopped > TimeSpan.Zero, $"completed_at is {stopped.TotalMilliseconds:F0} ms before the cancel was sent");
        Assert.True(stopped < TimeSpan.FromSeconds(1), $"the job stopped {stopped.TotalMilliseconds:F0} ms after the cancel was sent");
        Assert.True(state.GetProperty("frames").GetArrayLength() < 600);
    }

    [SkippableFact]
    public async Task Cluster_WorkerKilledMidJob_ItsJobFailsWithWorkerLostAndItsQueuedJobRunsElsewhere()
    {
        var database = await postgres.CreateDatabaseAsync();
        var root = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            await using var api = await NodeAsync(database, "api");
            Guid running, queued;
            await using (var doomed = await ServerProcess.StartAsync(
                             root, "--Storage:Provider=postgres", $"--ConnectionStrings:Jobs={database}", "--Node:Roles=worker",
                             "--Jobs:MaxConcurrentJobs=1", "--Jobs:LeaseDuration=00:00:02"))
            {
                running = await api.SubmitJobAsync(ServerFixture.Synthetic(600, fps: 20, width: 64, height: 64), ["frame_quality"]);
                await api.WaitForStatusAsync(running, TimeSpan.FromSeconds(30), "running");
                queued = await api.SubmitJobAsync(ServerFixture.Synthetic(3, width: 64, height: 64), ["frame_quality"]);
                doomed.Kill();
            }

            // Nobody renews the lease now: after 2 s any node fails the job; a new worker runs the queued one.
            await using var survivor = await NodeAsync(database, "worker", leaseDuration: "00:00:02");
            var lost = await api.WaitForStatusAsync(running, TimeSpan.FromSeconds(20), "failed", "completed", "cancelled");
            Assert.Equal("failed", lost.GetProperty("status").GetString());
            Assert.StartsWith("WORKER_LOST", lost.GetProperty("error").GetString(), StringComparison.Ordinal);

            var ran = await api.WaitForStatusAsync(queued, TimeSpan.FromSeconds(20), "completed", "failed");
            Assert.Equal("completed", ran.GetProperty("status").GetString());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static Task<ServerFixture> NodeAsync(
        string database, string roles, ListLoggerProvider? logs = null, string leaseDuration = "00:00:30", string poll = "00:00:01") =>
        ServerFixture.StartAsync(
            new Dictionary<string, string?>
            {
                ["Storage:Provider"] = "postgres", ["ConnectionStrings:Jobs"] = database, ["Node:Roles"] = roles,
                ["Jobs:LeaseDuration"] = leaseDuration, ["Jobs:QueuePollInterval"] = poll,
                ["Logging:LogLevel:CleanRealtime.Infrastructure.Execution"] = "Information",
            },
            logs is null ? null : services => services.AddSingleton<ILoggerProvider>(logs));
}
