using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Reliability;

public sealed class CrashRecoveryTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", "crash-" + Guid.NewGuid().ToString("N"));

    public CrashRecoveryTests() => Directory.CreateDirectory(_root);

    [Fact]
    public async Task ServerKilledMidJob_EveryAcceptedJobIsFinishedOrFailedWithAReason()
    {
        Guid running, queued;
        await using (var server = await ServerProcess.StartAsync(_root, "--Jobs:MaxConcurrentJobs=1"))
        {
            // A paced 60 s job holds the only lane; the second one waits in the queue.
            running = await SubmitAsync(server, "synthetic:pitch?frames=600&fps=10&width=64&height=64");
            queued = await SubmitAsync(server, "synthetic:pitch?frames=3&width=64&height=64");
            await PollAsync(server, running, j => j.GetProperty("status").GetString() == "running" && j.GetProperty("progress").GetInt32() >= 1);

            server.Kill();
        }

        await using (var restarted = await ServerProcess.StartAsync(_root, "--Jobs:MaxConcurrentJobs=1"))
        {
            var interrupted = await PollAsync(restarted, running, j => j.GetProperty("status").GetString() != "running");
            var finished = await PollAsync(restarted, queued, j => j.GetProperty("status").GetString() == "completed");

            Assert.Equal("failed", interrupted.GetProperty("status").GetString());
            Assert.Contains("server stopped while the job was running", interrupted.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.NotEqual(JsonValueKind.Null, interrupted.GetProperty("completed_at").ValueKind);
            Assert.Equal(3, finished.GetProperty("frames").GetArrayLength());

            // The interrupted job's event log keeps what was written before the kill, gap-free; then the seqs its server had
            // reserved but not stored (any of them may have reached a subscriber live): one hole, reported (410
            // REPLAY_UNAVAILABLE naming it), never skipped in silence; then the end recovery wrote after every seq a client
            // could have seen: an error WORKER_LOST, then progress 100 failed.
            var (items, holes) = await ReadHistoryAsync(restarted, running);
            var stored = items.Take(items.Count - 2).Select(i => i.GetProperty("seq").GetInt64()).ToList();
            var end = items.TakeLast(2).Select(i => i.GetProperty("seq").GetInt64()).ToList();
            Assert.Equal(Enumerable.Range(1, stored.Count).Select(i => (long)i), stored);
            Assert.Equal((stored[^1] + 1, end[0] - 1), Assert.Single(holes));
            Assert.Equal(end[0] + 1, end[1]);
            Assert.Equal("WORKER_LOST", items[^2].GetProperty("payload").GetProperty("details").GetProperty("error_code").GetString());
            Assert.Equal("failed", items[^1].GetProperty("payload").GetProperty("stage").GetString());
            Assert.Equal(100, items[^1].GetProperty("payload").GetProperty("progress").GetInt32());

            // Its frames analysed after the last checkpoint were only in the log: added to its stored frames, so /frames
            // and the log agree.
            var frames = await restarted.Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{running}/frames?limit=1");
            var loggedFrames = items.Where(i => i.GetProperty("type").GetString() == "frame")
                .Select(i => i.GetProperty("payload").GetProperty("frame_id").GetString()).Distinct().Count();
            Assert.True(loggedFrames > 0, "the job was killed after it analysed frames");
            Assert.Equal(loggedFrames, frames.GetProperty("total").GetInt32());

            var listed = await restarted.Http.GetFromJsonAsync<JsonElement>("/v1/jobs?limit=100");
            var ids = listed.GetProperty("items").EnumerateArray().Select(j => j.GetProperty("job_id").GetGuid()).ToList();
            Assert.Contains(running, ids);
            Assert.Contains(queued, ids);
        }
    }

    [Fact]
    public async Task ServerKilledMidJob_ResumeAfterTheHighestSeqSeenLive_GetsTheEndAfterItAndNoSeqTwice()
    {
        Guid running;
        var seen = new List<long>();
        await using (var server = await ServerProcess.StartAsync(_root))
        {
            running = await SubmitAsync(server, "synthetic:pitch?frames=600&fps=20&width=64&height=64");
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(RealtimeUri(server, $"job_id={running}&since=0"), CancellationToken.None);
            await using var live = new RealtimeClient(socket);

            // Killed while the subscriber is receiving: it may have seen messages the store had not kept yet.
            var received = await live.ReceiveUntilAsync(m => m.Seq >= 40, TimeSpan.FromSeconds(30));
            server.Kill();
            seen.AddRange(received.Where(m => m.Seq is not null).Select(m => m.Seq!.Value));
        }

        Assert.Equal(Enumerable.Range(1, seen.Count).Select(i => (long)i), seen);
        var highest = seen[^1];
        await using (var restarted = await ServerProcess.StartAsync(_root))
        {
            await PollAsync(restarted, running, j => j.GetProperty("status").GetString() == "failed");
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(RealtimeUri(restarted, $"job_id={running}&since={highest}"), CancellationToken.None);
            await using var resumed = new RealtimeClient(socket);
            var after = (await resumed.ReceiveUntilAsync(m => m.IsEndOf(running), TimeSpan.FromSeconds(30)))
                .Where(m => m.Type is not ("metadata" or "ping")).ToList();

            // The end comes after every seq the subscriber saw, none of them twice. The store may have kept some messages the
            // subscriber had not received yet when the server died: they are replayed first, in order. The seqs between
            // the last one stored and the end (reserved before the kill, some perhaps published, none stored) are reported
            // missing just before the end, never skipped in silence.
            var numbered = after.Where(m => m.Seq is not null).ToList();
            Assert.All(numbered, m => Assert.True(m.Seq > highest, $"seq {m.Seq} was already delivered (up to {highest})"));
            Assert.True(numbered.Count >= 2, $"the resume got {numbered.Count} numbered messages, not the job's end");
            var end = numbered[^2..];
            Assert.Equal(["error", "progress"], end.Select(m => m.Type));
            Assert.Equal("WORKER_LOST", end[0].Payload.GetProperty("details").GetProperty("error_code").GetString());
            Assert.Equal("failed", end[1].Payload.GetProperty("stage").GetString());
            var replayed = numbered[..^2];
            Assert.Equal(Enumerable.Range(1, replayed.Count).Select(i => (long?)(highest + i)), replayed.Select(m => m.Seq));
            var lastKept = replayed.Count == 0 ? highest : replayed[^1].Seq!.Value;
            var missing = Assert.Single(after, m => m.Seq is null);
            Assert.Equal("REPLAY_UNAVAILABLE", missing.Payload.GetProperty("details").GetProperty("error_code").GetString());
            Assert.Contains($"Messages {lastKept + 1}-{end[0].Seq - 1} of job", missing.Payload.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Same(missing, after[after.IndexOf(end[0]) - 1]);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS temp cleaner.
        }
    }

    private static Uri RealtimeUri(ServerProcess server, string query) =>
        new($"ws://{server.BaseAddress.Authority}/v1/realtime?{query}");

    /// <summary>
    /// Every kept message of the job, page by page (<c>GET /events</c>), and each hole a page stopped at (the 410
    /// <c>REPLAY_UNAVAILABLE</c> naming the missing seqs), read on after it.
    /// </summary>
    private static async Task<(List<JsonElement> Items, List<(long From, long To)> Holes)> ReadHistoryAsync(ServerProcess server, Guid id)
    {
        var items = new List<JsonElement>();
        var holes = new List<(long, long)>();
        for (long since = 0; ;)
        {
            using var response = await server.Http.GetAsync($"/v1/jobs/{id}/events?since={since}&limit=500");
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (response.StatusCode == System.Net.HttpStatusCode.Gone)
            {
                Assert.Equal("REPLAY_UNAVAILABLE", body.GetProperty("error_code").GetString());
                var hole = (body.GetProperty("missing_from").GetInt64(), body.GetProperty("missing_to").GetInt64());
                Assert.Equal(since + 1, hole.Item1);
                holes.Add(hole);
                since = hole.Item2;
                continue;
            }

            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            items.AddRange(body.GetProperty("items").EnumerateArray().Select(i => i.Clone()));
            if (body.GetProperty("finished").GetBoolean())
            {
                return (items, holes);
            }

            Assert.True(body.GetProperty("next_since").GetInt64() > since, $"no progress past seq {since}: {body}");
            since = body.GetProperty("next_since").GetInt64();
        }
    }

    private static async Task<Guid> SubmitAsync(ServerProcess server, string source)
    {
        using var response = await server.Http.PostAsJsonAsync("/v1/jobs", new { source, plugins = new[] { "frame_quality" } });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetGuid();
    }

    private static async Task<JsonElement> PollAsync(ServerProcess server, Guid id, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement job;
        do
        {
            job = await server.Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}/extended");
            if (done(job))
            {
                return job;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"job {id} never reached the expected state: {job}");
        return job;
    }
}
