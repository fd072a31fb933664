using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Realtime;
using CleanRealtime.IntegrationTests.Infrastructure;
using CleanRealtime.IntegrationTests.Reliability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>
/// A worker that dies mid-job in a cluster on real PostgreSQL and Redis (Testcontainers): API-only nodes in this test
/// process, the worker as its own OS process killed with SIGKILL. One <c>seq</c>, one history (API.md §3.8, §5): the
/// job's <c>WORKER_LOST</c> end comes after every message any subscriber got, every node tells the same history, and
/// one node reaps each lost job.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ClusterFaultTests(PostgresContainer postgres, RedisContainer redis)
{
    // Long enough that the worker's lease outlives the store's pause while it is alive; short ones for the reaper race.
    private const string Lease = "00:00:05";
    private const string ShortLease = "00:00:03";
    private static readonly string[] Plugins = ["frame_quality"];

    [SkippableFact]
    public async Task Cluster_WorkerKilledWhileTheStoreIsPaused_EndFollowsEverySeqDeliveredAndEveryNodeGivesTheSameHistory()
    {
        var database = await postgres.CreateDatabaseAsync();
        var root = TempRoot();
        try
        {
            await using var a = await NodeAsync(database);
            await using var c = await NodeAsync(database);
            Guid job;
            Collector onWebSocket, onSse;
            long deliveredBeforeKill;
            await using (var doomed = await WorkerProcessAsync(root, database, Lease))
            {
                job = await a.SubmitJobAsync(ServerFixture.Synthetic(1200, fps: 20, width: 64, height: 64), Plugins);
                var (socket, _) = await a.ConnectWelcomedAsync($"job_id={job}&since=0");
                var sse = await a.ConnectSseAsync($"job_id={job}&since=0");
                onWebSocket = new Collector(socket, job);
                onSse = new Collector(sse, job);
                await onWebSocket.WaitForSeqAsync(40);

                // The store freezes; the live feed goes on through Redis, so node A delivers what the log will never get.
                await postgres.PauseAsync();
                try
                {
                    var atPause = onWebSocket.MaxSeq;
                    await onWebSocket.WaitForSeqAsync(atPause + 20);
                    doomed.Kill();
                    deliveredBeforeKill = onWebSocket.MaxSeq;
                }
                finally
                {
                    await postgres.UnpauseAsync();
                }
            }

            // Nobody renews the lease: one of the API nodes fails the job; its end reaches node A's subscribers, which close.
            var (webSocketMessages, sseMessages) = (await onWebSocket.Completion, await onSse.Completion);
            await using var ownedSocket = (RealtimeClient)onWebSocket.Reader;
            await using var ownedSse = (SseClient)onSse.Reader;

            foreach (var received in new[] { webSocketMessages, sseMessages })
            {
                var seqs = received.Select(m => m.Seq!.Value).ToList();
                Assert.Equal(seqs.Distinct().Order(), seqs);
                var end = received[^2..];
                Assert.Equal("WORKER_LOST", end[0].Payload.GetProperty("details").GetProperty("error_code").GetString());
                Assert.True(end[1].IsEndOf(job) && end[1].Str("stage") == "failed", $"the stream ends with progress failed: {end[1]}");
                Assert.Equal(end[0].Seq + 1, end[1].Seq);
                Assert.True(end[0].Seq > deliveredBeforeKill, $"the end ({end[0].Seq}) reuses a seq delivered before the kill ({deliveredBeforeKill})");
            }

            // Both transports got the same messages, and each seq stored is what was delivered under that seq.
            var delivered = webSocketMessages.ToDictionary(m => m.Seq!.Value, m => m.Raw);
            Assert.Equal(webSocketMessages.Select(m => m.Raw), sseMessages.Select(m => m.Raw));
            var stored = await StoredAsync(database, job);
            Assert.All(stored, item => Assert.True(
                !delivered.TryGetValue(item.Seq, out var raw) || raw == item.Raw, $"seq {item.Seq} was delivered as {raw} but stored as {item.Raw}"));
            Assert.Equal(webSocketMessages[^1].Raw, stored[^1].Raw);

            // The store lagged the live feed when the worker died: messages delivered live that were never stored.
            var storedSeqs = stored.Select(i => i.Seq).ToHashSet();
            Assert.Contains(delivered.Keys, seq => !storedSeqs.Contains(seq));

            // Every node tells the same history, and a resume after the last message delivered live gets the end only.
            Assert.Equal(await HistoryAsync(c, job), await HistoryAsync(a, job));
            var lastLive = webSocketMessages[^3].Seq!.Value;
            Assert.Equal(lastLive + 1, webSocketMessages[^2].Seq);
            foreach (var node in new[] { a, c })
            {
                var (resumed, _) = await node.ConnectWelcomedAsync($"job_id={job}&since={lastLive}");
                await using var ownedResumed = resumed;
                var rest = await resumed.ReceiveJobAsync(job, TimeSpan.FromSeconds(30));
                Assert.Equal(webSocketMessages[^2..].Select(m => m.Raw), rest.Select(m => m.Raw));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Cluster_TwoNodesReapTheSameLostJobs_EachGetsExactlyOneEndAndNothingIsLoggedAsAnError()
    {
        var database = await postgres.CreateDatabaseAsync();
        var root = TempRoot();
        var logs = new LevelLogs();
        try
        {
            await using var a = await NodeAsync(database, logs, ShortLease);
            await using var c = await NodeAsync(database, logs, ShortLease);
            var startUp = logs.Entries.Length; // EF logs its first look for the migrations table of a new database as an error
            var jobs = new List<Guid>();
            await using (var doomed = await WorkerProcessAsync(root, database, ShortLease, "--Jobs:MaxConcurrentJobs=3"))
            {
                for (var i = 0; i < 3; i++)
                {
                    jobs.Add(await a.SubmitJobAsync(ServerFixture.Synthetic(1200, fps: 20, width: 64, height: 64), Plugins));
                }

                foreach (var job in jobs)
                {
                    await a.WaitForStatusAsync(job, TimeSpan.FromSeconds(30), "running");
                }

                // Both API nodes' reapers are held by the frozen store until the leases have expired, then run together.
                await postgres.PauseAsync();
                try
                {
                    doomed.Kill();
                    await Task.Delay(TimeSpan.Parse(ShortLease, System.Globalization.CultureInfo.InvariantCulture) + TimeSpan.FromSeconds(2));
                }
                finally
                {
                    await postgres.UnpauseAsync();
                }
            }

            foreach (var job in jobs)
            {
                var state = await c.WaitForStatusAsync(job, TimeSpan.FromSeconds(30), "failed", "completed", "cancelled");
                Assert.StartsWith("WORKER_LOST", state.GetProperty("error").GetString(), StringComparison.Ordinal);
                var stored = await StoredAsync(database, job);
                Assert.Single(stored, i => i.Raw.Contains("\"WORKER_LOST\"", StringComparison.Ordinal));
                Assert.Single(stored, i => i.EndsJob);
                Assert.True(stored[^1].EndsJob && ReceivedMessage.Parse(stored[^1].Raw).IsEndOf(job), "the end is the last message");
            }

            // The reapers did race: one node found a lost job already claimed by the other and skipped it quietly.
            var logged = logs.Entries.Skip(startUp).ToList();
            Assert.Contains(logged, e => e.Message.Contains("was claimed by another node", StringComparison.Ordinal));
            Assert.DoesNotContain(logged, e => e.Level >= LogLevel.Error);
            Assert.DoesNotContain(logged, e => e.Message.Contains("23505", StringComparison.Ordinal) || e.Exception?.Contains("23505", StringComparison.Ordinal) == true);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Cluster_RedisFrozenWhenTheWorkerIsLost_TheReapWaitsForItThenEndsAfterEverySeqDelivered()
    {
        var database = await postgres.CreateDatabaseAsync();
        var root = TempRoot();
        var logs = new LevelLogs();
        try
        {
            await using var a = await NodeAsync(database, logs);
            Guid job;
            Collector onWebSocket;
            await using (var doomed = await WorkerProcessAsync(root, database, Lease))
            {
                job = await a.SubmitJobAsync(ServerFixture.Synthetic(1200, fps: 20, width: 64, height: 64), Plugins);
                var (socket, _) = await a.ConnectWelcomedAsync($"job_id={job}&since=0");
                onWebSocket = new Collector(socket, job);
                await onWebSocket.WaitForSeqAsync(30);

                // Redis cannot say which seq the worker published last: numbering the end now could reuse one.
                await redis.PauseAsync();
                try
                {
                    doomed.Kill();
                    await ServerFixture.WaitUntilAsync(
                        () => Task.FromResult(logs.Entries.Any(e => e.Message.Contains($"Job {job} lost its worker, but the backplane cannot say", StringComparison.Ordinal))),
                        TimeSpan.FromSeconds(60),
                        "the reaper did not find Redis unreachable");
                    Assert.Equal("running", (await a.GetJsonAsync($"/v1/jobs/{job}/extended")).GetProperty("status").GetString());
                }
                finally
                {
                    await redis.UnpauseAsync();
                }
            }

            // Once Redis answers, the next round fails the job after everything delivered.
            var messages = await onWebSocket.Completion;
            await using var ownedSocket = (RealtimeClient)onWebSocket.Reader;
            var seqs = messages.Select(m => m.Seq!.Value).ToList();
            Assert.Equal(seqs.Distinct().Order(), seqs);
            Assert.True(messages[^2].Type == "error", $"the end is WORKER_LOST then progress failed: {string.Join(" | ", messages.TakeLast(4))}");
            Assert.Equal("WORKER_LOST", messages[^2].Payload.GetProperty("details").GetProperty("error_code").GetString());
            Assert.Equal(messages[^3].Seq + 1, messages[^2].Seq);
            var state = await a.WaitForStatusAsync(job, TimeSpan.FromSeconds(30), "failed", "completed", "cancelled");
            Assert.StartsWith("WORKER_LOST", state.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Backplane_JobClosedForItsLostWorker_ReturnsTheLastSeqSentAndDropsWhatIsSentAfter()
    {
        await using var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var database = connection.GetDatabase();
        var received = new ConcurrentQueue<BackplaneMessage>();
        var subscription = await connection.GetSubscriber().SubscribeAsync(BackplaneScripts.Channel);
        subscription.OnMessage(m =>
        {
            if (BackplaneWireFormat.TryDecode(m.Message, out var message))
            {
                received.Enqueue(message);
            }
        });
        var (lost, other) = (Guid.NewGuid(), Guid.NewGuid());

        await BackplaneScripts.PublishAsync(database, [Sent(lost, 1), Sent(lost, 2), Sent(other, 1)]);
        Assert.Equal(2, (long)await BackplaneScripts.CloseAsync(database, lost));
        await BackplaneScripts.PublishAsync(database, [Sent(lost, 3), Sent(other, 2)]);
        await BackplaneScripts.PublishAsync(database, [Sent(other, 3)]);

        // Redis delivers in order: once the last one is here, so is everything sent before it.
        await ServerFixture.WaitUntilAsync(
            () => Task.FromResult(received.Any(m => m.JobId == other && m.Seq == 3)), TimeSpan.FromSeconds(10), "the last message arrived");
        Assert.Equal([(lost, 1L), (lost, 2L), (other, 1L), (other, 2L), (other, 3L)], received.Select(m => (m.JobId, m.Seq)));
        Assert.Equal(2, (long)await database.StringGetAsync(BackplaneScripts.LastSeqKey(lost)));
        Assert.Equal(3, (long)await database.StringGetAsync(BackplaneScripts.LastSeqKey(other)));
        Assert.Equal(2, (long)await BackplaneScripts.CloseAsync(database, lost));
        Assert.True((await BackplaneScripts.CloseAsync(database, Guid.NewGuid())).IsNull, "a job never published has no last seq");
        Assert.True(await database.KeyTimeToLiveAsync(BackplaneScripts.LastSeqKey(other)) > TimeSpan.FromHours(23), "the key outlives any lease");
        await subscription.UnsubscribeAsync();
    }

    private static BackplaneMessage Sent(Guid job, long seq) => new("test", job, seq, MessageType.Frame, false, "{}"u8.ToArray());

    /// <summary>The job's event log as stored, read from PostgreSQL directly (holes and all).</summary>
    private static async Task<List<(long Seq, string Raw, bool EndsJob)>> StoredAsync(string database, Guid job)
    {
        await using var connection = new Npgsql.NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT \"Seq\", \"Json\", \"EndsJob\" FROM job_events WHERE \"JobId\" = @job ORDER BY \"Seq\"", connection);
        command.Parameters.AddWithValue("job", job.ToString("D"));
        var stored = new List<(long Seq, string Raw, bool EndsJob)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            stored.Add((reader.GetInt64(0), System.Text.Encoding.UTF8.GetString((byte[])reader[1]), reader.GetBoolean(2)));
        }

        return stored;
    }

    private static string TempRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        return root;
    }

    /// <summary>Every page of <c>GET /v1/jobs/{id}/events</c> from the start, as answered (a refusal ends the walk).</summary>
    private static async Task<List<string>> HistoryAsync(ServerFixture node, Guid job)
    {
        var pages = new List<string>();
        long since = 0;
        for (var page = 0; page < 100; page++)
        {
            using var response = await node.Http.GetAsync($"/v1/jobs/{job}/events?since={since}&limit=1000");
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.OK)
            {
                // A problem: what it says, without what differs per request.
                var problem = JsonNode.Parse(body)!.AsObject();
                problem.Remove("traceId");
                problem.Remove("trace_id");
                problem.Remove("instance");
                pages.Add($"{(int)response.StatusCode} {problem.ToJsonString()}");
                break;
            }

            pages.Add(body);
            using var json = JsonDocument.Parse(body);
            var next = json.RootElement.GetProperty("next_since").GetInt64();
            if (json.RootElement.GetProperty("finished").GetBoolean() || next == since)
            {
                break;
            }

            since = next;
        }

        return pages;
    }

    private Task<ServerProcess> WorkerProcessAsync(string root, string database, string lease, params string[] more) =>
        ServerProcess.StartAsync(
            root,
            [
                "--Storage:Provider=postgres", $"--ConnectionStrings:Jobs={database}", "--Node:Roles=api,worker",
                "--Realtime:Backplane=redis", $"--ConnectionStrings:Redis={redis.ConnectionString}",
                "--Jobs:MaxConcurrentJobs=1", $"--Jobs:LeaseDuration={lease}", .. more,
            ]);

    private Task<ServerFixture> NodeAsync(string database, LevelLogs? logs = null, string lease = Lease) =>
        ServerFixture.StartAsync(
            new Dictionary<string, string?>
            {
                ["Storage:Provider"] = "postgres", ["ConnectionStrings:Jobs"] = database, ["Node:Roles"] = "api",
                ["Realtime:Backplane"] = "redis", ["ConnectionStrings:Redis"] = redis.ConnectionString,
                ["Jobs:LeaseDuration"] = lease,
                ["Logging:LogLevel:CleanRealtime.Infrastructure.Execution"] = "Debug",
            },
            logs is null ? null : services => services.AddSingleton<ILoggerProvider>(logs));

    /// <summary>Reads one subscriber's messages in the background until the job's end; tells the highest seq so far.</summary>
    private sealed class Collector
    {
        private long _maxSeq;

        public Collector(IMessageReader reader, Guid job)
        {
            Reader = reader;
            Completion = Task.Run(async () =>
            {
                var all = await reader.ReceiveUntilAsync(
                    m =>
                    {
                        if (m.IsFor(job) && m.Seq is { } seq && seq > Volatile.Read(ref _maxSeq))
                        {
                            Volatile.Write(ref _maxSeq, seq);
                        }

                        return m.IsEndOf(job);
                    },
                    TimeSpan.FromSeconds(120));
                return all.Where(m => m.IsFor(job)).ToList();
            });
        }

        public IMessageReader Reader { get; }

        public Task<List<ReceivedMessage>> Completion { get; }

        public long MaxSeq => Volatile.Read(ref _maxSeq);

        public Task WaitForSeqAsync(long seq) =>
            ServerFixture.WaitUntilAsync(
                () => Completion.IsCompleted
                    ? throw new InvalidOperationException($"the stream ended early: {Completion.Exception?.GetBaseException().Message ?? string.Join(" | ", Completion.Result.TakeLast(3))}")
                    : Task.FromResult(MaxSeq >= seq),
                TimeSpan.FromSeconds(30),
                $"the subscriber did not get seq {seq} (has {MaxSeq})");
    }

    /// <summary>Every log entry of the nodes, with its level, category and exception.</summary>
    private sealed class LevelLogs : ILoggerProvider
    {
        private readonly ConcurrentQueue<Entry> _entries = new();

        public Entry[] Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

        public void Dispose()
        {
        }

        public sealed record Entry(LogLevel Level, string Category, string Message, string? Exception);

        private sealed class Logger(string category, ConcurrentQueue<Entry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue(new Entry(logLevel, category, formatter(state, exception), exception?.ToString()));
        }
    }
}
