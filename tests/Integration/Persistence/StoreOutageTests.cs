using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>
/// API.md §3.8 "never silent" and §6 on a real server whose SQLite store another process locks: a request that needs the
/// store gets a 503 with Retry-After in time (never a 500, never a hang), and messages the event log could not keep are
/// told to the live subscriber, to a resume, to <c>GET …/events</c>, to <c>/health/ready</c> and to <c>/metrics</c>.
/// </summary>
public sealed class StoreOutageTests
{
    [Fact]
    public async Task LockedStore_SubmittingAJob_Answers503WithRetryAfter_InTime_ThenWorksOnceFree()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Storage:RequestTimeout"] = "00:00:02" });
        await using (var locker = await LockAsync(server))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var response = await server.Http.PostAsJsonAsync(
                "/v1/jobs", new { source = ServerFixture.Synthetic(3), device_requested = "cpu", plugins = new[] { "frame_quality" } });
            var body = await response.Content.ReadAsStringAsync();

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the 503 took {clock.Elapsed}");
            Assert.Equal("5", response.Headers.GetValues("Retry-After").Single());
            using var problem = JsonDocument.Parse(body);
            Assert.Equal("STORE_UNAVAILABLE", problem.RootElement.GetProperty("error_code").GetString());
            Assert.Equal(503, problem.RootElement.GetProperty("status").GetInt32());
        }

        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(3), ["frame_quality"]);
        await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(30), "completed");
    }

    [Fact]
    public async Task EventLogRefusedLongerThanItsRetries_TheLossIsToldLiveOnResumeOnRestInHealthAndMetrics()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:RequestTimeout"] = "00:00:01",
            ["Realtime:EventLogRetryFor"] = "00:00:01",
        });
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(120, fps: 20, width: 64, height: 64), ["frame_quality"]);
        var (live, _) = await server.ConnectWelcomedAsync($"job_id={id}&since=0");
        await using var ownedLive = live;
        var before = await live.ReceiveUntilAsync(m => m.Type == "frame" && m.Seq > 10, TimeSpan.FromSeconds(30));

        // The store refuses every write for ~5 s: longer than the writer retries (1 s, each attempt waiting 1 s for the lock).
        await using (await LockAsync(server))
        {
            await ServerFixture.WaitUntilAsync(
                async () => (await server.Http.GetStringAsync("/health/ready")).Contains("Degraded", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "/health/ready reports the store as degraded while writes fail");
            await ServerFixture.WaitUntilAsync(
                async () => await server.MetricAsync("cleanrealtime_event_log_lost_messages_total") > 0,
                TimeSpan.FromSeconds(15), "messages are given up while the store is locked");
        }

        var rest = await live.ReceiveJobAsync(id, TimeSpan.FromSeconds(60));
        var all = before.Where(m => m.IsFor(id)).Concat(rest).ToList();
        var warning = Assert.Single(all, m => m.Type == "warning" && m.Str("plugin") == "server");
        Assert.Equal("high", warning.Str("severity"));
        Assert.Contains("could not be stored", warning.Str("message"), StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long?)i), all.Select(m => m.Seq));
        await ServerFixture.WaitUntilAsync(
            async () => (await server.Http.GetStringAsync("/health/ready")).Contains("Healthy", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "healthy again once a write succeeds");

        // REST pages stop at the hole, then a 410 names it and where to go on.
        var seen = new List<long>();
        long since = 0;
        (long From, long To)? missing = null;
        for (var pages = 0; pages < 50; pages++)
        {
            using var response = await server.Http.GetAsync($"/v1/jobs/{id}/events?since={since}&limit=1000");
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            if (response.StatusCode == HttpStatusCode.Gone)
            {
                Assert.Equal("REPLAY_UNAVAILABLE", body.RootElement.GetProperty("error_code").GetString());
                missing = (body.RootElement.GetProperty("missing_from").GetInt64(), body.RootElement.GetProperty("missing_to").GetInt64());
                Assert.Equal(missing.Value.To + 1, body.RootElement.GetProperty("first_seq").GetInt64());
                Assert.Equal(since + 1, missing.Value.From);
                since = missing.Value.To;
                continue;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            seen.AddRange(body.RootElement.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
            since = body.RootElement.GetProperty("next_since").GetInt64();
            if (body.RootElement.GetProperty("finished").GetBoolean())
            {
                break;
            }
        }

        Assert.NotNull(missing);
        var range = missing.Value.From == missing.Value.To ? $"{missing.Value.From}" : $"{missing.Value.From}-{missing.Value.To}";
        Assert.Contains($"Messages {range} of this job", warning.Str("message"), StringComparison.Ordinal);
        var lost = Enumerable.Range((int)missing.Value.From, (int)(missing.Value.To - missing.Value.From + 1)).Select(i => (long)i).ToHashSet();
        Assert.Equal(all.Select(m => m.Seq!.Value).Where(s => !lost.Contains(s)), seen);

        // A WebSocket resume over the hole: the error names it, then everything after it, in order.
        var (resume, _) = await server.ConnectWelcomedAsync($"job_id={id}&since=0");
        await using var ownedResume = resume;
        var replayed = await resume.ReceiveUntilAsync(m => m.IsEndOf(id), TimeSpan.FromSeconds(30));
        var notice = Assert.Single(replayed, m => m.Type == "error");
        Assert.Null(notice.Seq);
        Assert.Contains($"Messages {range} of job {id}", notice.Raw, StringComparison.Ordinal);
        Assert.Contains("REPLAY_UNAVAILABLE", notice.Raw, StringComparison.Ordinal);
        Assert.Equal(seen, replayed.Where(m => m.Seq is not null).Select(m => m.Seq!.Value));
        Assert.Equal(missing.Value.From - 1, replayed[replayed.IndexOf(notice) - 1].Seq);
        Assert.True(await server.MetricAsync("cleanrealtime_replay_gaps_reported_total") >= 2);
    }

    /// <summary>Another process's write lock on the server's SQLite file (WAL: readers go on, writers wait and fail).</summary>
    private static async Task<StoreLock> LockAsync(ServerFixture server)
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(server.Root, "jobs.db")};Pooling=False");
        await connection.OpenAsync();
        await using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN EXCLUSIVE;";
        await begin.ExecuteNonQueryAsync();
        return new StoreLock(connection);
    }

    private sealed class StoreLock(SqliteConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await using (var rollback = connection.CreateCommand())
            {
                rollback.CommandText = "ROLLBACK;";
                await rollback.ExecuteNonQueryAsync();
            }

            await connection.DisposeAsync();
        }
    }
}
