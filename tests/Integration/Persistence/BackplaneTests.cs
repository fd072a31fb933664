using System.Diagnostics;
using CleanRealtime.IntegrationTests.Infrastructure;
using CleanRealtime.IntegrationTests.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>
/// <c>Realtime:Backplane=redis</c> (API.md §5): nodes in this test process on loopback ports, on one PostgreSQL and one
/// Redis (Testcontainers). Every subscriber of a job, on any node, gets every message of it once, in seq order, with the
/// bytes the node running it serialized, also when Redis stalls or restarts mid-job.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class BackplaneTests(PostgresContainer postgres, RedisContainer redis)
{
    private static readonly string[] Plugins = ["frame_quality"];

    [SkippableFact]
    public async Task Backplane_JobRunOnAnotherNode_SubscribersOnEveryNodeGetTheSameSeqsAndBytesAndResumeWorksOnAThirdNode()
    {
        var database = await postgres.CreateDatabaseAsync();

        // No catch-up from the log within the job's few seconds: what reaches node A live crossed Redis.
        await using var a = await NodeAsync(database, "api", catchUp: TimeSpan.FromSeconds(30));
        await using var b = await NodeAsync(database, "api,worker", catchUp: TimeSpan.FromSeconds(30));
        await using var c = await NodeAsync(database, "api", catchUp: TimeSpan.FromSeconds(30));

        var job = await a.SubmitJobAsync(ServerFixture.Synthetic(60, fps: 30, width: 64, height: 64), Plugins);
        var (onA, _) = await a.ConnectWelcomedAsync($"job_id={job}&since=0");
        var (onB, _) = await b.ConnectWelcomedAsync($"job_id={job}&since=0");
        await using var ownedA = onA;
        await using var ownedB = onB;
        var fromA = TimedAsync(onA.ReceiveJobAsync(job, TimeSpan.FromSeconds(60)));
        var fromB = TimedAsync(onB.ReceiveJobAsync(job, TimeSpan.FromSeconds(60)));

        // A third node, mid-job, resuming after seq 5.
        await a.WaitForStatusAsync(job, TimeSpan.FromSeconds(30), "running", "completed");
        var (onC, welcomeC) = await c.ConnectWelcomedAsync($"job_id={job}&since=5");
        await using var ownedC = onC;
        var fromC = await onC.ReceiveJobAsync(job, TimeSpan.FromSeconds(60));

        var (expected, endedOnB) = await fromB;
        var (received, endedOnA) = await fromA;
        Assert.Equal(Enumerable.Range(1, expected.Count).Select(i => (long?)i), expected.Select(m => m.Seq));
        Assert.Equal(expected.Select(m => m.Raw), received.Select(m => m.Raw));
        Assert.Equal(expected.Skip(5).Select(m => m.Raw), fromC.Select(m => m.Raw));
        Assert.All(welcomeC, m => Assert.Null(m.Seq));
        Assert.True(
            endedOnA - endedOnB < TimeSpan.FromSeconds(5),
            $"node A got the end {(endedOnA - endedOnB).TotalMilliseconds:F0} ms after node B: it did not come through Redis");
        // The final state is saved just after the stream's end: read from the store on a node that did not run it.
        Assert.Equal("completed", (await c.WaitForStatusAsync(job, TimeSpan.FromSeconds(10), "completed", "failed")).GetProperty("status").GetString());

        // /metrics on both sides of Redis: node B published and sent the job's messages, node A received them and timed the trip.
        Assert.True(await b.MetricAsync("cleanrealtime_messages_published_total") >= expected.Count);
        Assert.True(await b.MetricAsync("cleanrealtime_backplane_messages_total{direction=\"sent\"}") >= expected.Count);
        Assert.True(await a.MetricAsync("cleanrealtime_backplane_messages_total{direction=\"received\"}") >= expected.Count);
        Assert.Equal(0, await a.MetricAsync("cleanrealtime_messages_published_total"));
        var latencies = await a.MetricAsync("cleanrealtime_backplane_publish_seconds_count");
        Assert.True(latencies >= expected.Count, $"{latencies} backplane latencies observed for {expected.Count} messages");
        Assert.True(
            await a.MetricAsync("cleanrealtime_backplane_publish_seconds_sum") / latencies < 1,
            "messages crossed Redis in under a second on average");
    }

    [SkippableFact]
    public async Task Backplane_RedisPausedMidJob_EverySubscriberEndsWithTheCompleteSequence()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await NodeAsync(database, "api");
        await using var b = await NodeAsync(database, "api,worker");

        await AssertCompleteThroughAsync(a, b, async () =>
        {
            await redis.PauseAsync();
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(3));
            }
            finally
            {
                await redis.UnpauseAsync();
            }
        });
    }

    [SkippableFact]
    public async Task Backplane_RedisRestartedMidJob_EverySubscriberEndsWithTheCompleteSequenceAndLiveDeliveryResumes()
    {
        var database = await postgres.CreateDatabaseAsync();
        var logs = new ListLoggerProvider();
        await using var a = await NodeAsync(database, "api", logs: logs);
        await using var b = await NodeAsync(database, "api,worker");
        await AssertCompleteThroughAsync(a, b, () => redis.RestartAsync(down: TimeSpan.FromSeconds(2)));
        Assert.Contains(logs.Lines, l => l.Contains("Backplane link to Redis failed", StringComparison.Ordinal));

        // Once the link is back, the next job's messages cross live again.
        await ServerFixture.WaitUntilAsync(
            () => Task.FromResult(logs.Lines.Any(l => l.Contains("Backplane link to Redis restored", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(30),
            "node A did not reconnect to Redis");
        var next = await a.SubmitJobAsync(ServerFixture.Synthetic(5, width: 64, height: 64), Plugins);
        var (again, _) = await a.ConnectWelcomedAsync($"job_id={next}&since=0");
        await using var ownedAgain = again;
        var messages = await again.ReceiveJobAsync(next, TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(1, messages.Count).Select(i => (long?)i), messages.Select(m => m.Seq));
    }

    /// <summary>
    /// A job run on node B with a subscriber on each node since its first message; <paramref name="disrupt"/> happens to
    /// Redis once node A has seen seq 10. Node A must end with every seq, in order, with node B's bytes.
    /// </summary>
    private static async Task AssertCompleteThroughAsync(ServerFixture a, ServerFixture b, Func<Task> disrupt)
    {
        var job = await a.SubmitJobAsync(ServerFixture.Synthetic(100, fps: 20, width: 64, height: 64), Plugins);
        var (onA, _) = await a.ConnectWelcomedAsync($"job_id={job}&since=0");
        var (onB, _) = await b.ConnectWelcomedAsync($"job_id={job}&since=0");
        await using var ownedA = onA;
        await using var ownedB = onB;
        var fromB = onB.ReceiveJobAsync(job, TimeSpan.FromSeconds(60));
        var first = await onA.ReceiveUntilAsync(m => m.Seq >= 10, TimeSpan.FromSeconds(30));

        await disrupt();

        var rest = await onA.ReceiveJobAsync(job, TimeSpan.FromSeconds(60));
        var received = first.Where(m => m.IsFor(job)).Concat(rest).ToList();
        var expected = await fromB;
        Assert.Equal(Enumerable.Range(1, expected.Count).Select(i => (long?)i), expected.Select(m => m.Seq));
        Assert.Equal(expected.Select(m => m.Raw), received.Select(m => m.Raw));
    }

    private static async Task<(List<ReceivedMessage> Messages, TimeSpan EndedAt)> TimedAsync(Task<List<ReceivedMessage>> receiving)
    {
        var messages = await receiving;
        return (messages, TimeSpan.FromTicks(Stopwatch.GetTimestamp() * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
    }

    private Task<ServerFixture> NodeAsync(string database, string roles, ListLoggerProvider? logs = null, TimeSpan? catchUp = null) =>
        ServerFixture.StartAsync(
            new Dictionary<string, string?>
            {
                ["Storage:Provider"] = "postgres", ["ConnectionStrings:Jobs"] = database, ["Node:Roles"] = roles,
                ["Realtime:Backplane"] = "redis", ["ConnectionStrings:Redis"] = redis.ConnectionString,
                ["Realtime:BackplaneCatchUpInterval"] = (catchUp ?? TimeSpan.FromSeconds(1)).ToString(),
            },
            logs is null ? null : services => services.AddSingleton<ILoggerProvider>(logs));
}
