using System.Collections.Concurrent;
using System.Diagnostics;
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

        // A paced job (100 frames at 10 fps, ~10 s) watched live from its first message; PostgreSQL is paused for 3 s
        // while it runs, so its messages are published, delivered live and on their way to the event log meanwhile.
        var (watcher, _) = await server.ConnectWelcomedAsync();
        await using var watching = watcher;
        var clock = Stopwatch.StartNew();
        var received = new ConcurrentQueue<(ReceivedMessage Message, TimeSpan At)>();
        var job = new TaskCompletionSource<Guid>(TaskCreationOptions.RunContinuationsAsynchronously);
        var collecting = Task.Run(async () =>
        {
            while (true)
            {
                var message = await watcher.ReceiveAsync(TimeSpan.FromSeconds(60))
                              ?? throw new InvalidOperationException("the server closed the watcher");
                received.Enqueue((message, clock.Elapsed));
                if (job.Task.IsCompleted && message.IsEndOf(job.Task.Result))
                {
                    return;
                }
            }
        });
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(100, fps: 10, width: 64, height: 64), ["frame_quality"]);
        job.SetResult(id);
        await ServerFixture.WaitUntilAsync(
            () => Task.FromResult(received.Count(r => r.Message.IsFor(id) && r.Message.Type == "frame") >= 3),
            TimeSpan.FromSeconds(15), "the paced job did not start publishing frames");

        await postgres.PauseAsync();
        var paused = clock.Elapsed;
        TimeSpan resumed;
        try
        {
            using var stalled = await server.Http.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, stalled.StatusCode);
            var left = TimeSpan.FromSeconds(3) - (clock.Elapsed - paused);
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left);
            }
        }
        finally
        {
            resumed = clock.Elapsed;
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
        await collecting.WaitAsync(TimeSpan.FromSeconds(60));
        var state = await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(30), "completed", "failed", "cancelled");

        // In flight during the stall: frames delivered live well inside the pause (a frame every 100 ms), which the store
        // could not have taken before PostgreSQL came back.
        var live = received.Where(r => r.Message.IsFor(id)).ToList();
        var duringStall = live.Where(r => r.At > paused + TimeSpan.FromMilliseconds(300) && r.At < resumed && r.Message.Type == "frame").ToList();
        Assert.True(duringStall.Count >= 10, $"only {duringStall.Count} frames were published while PostgreSQL was paused");

        // Nothing lost: the job completed with all its frames; every message was delivered live once, in order, and the
        // event log holds exactly those messages, byte for byte, those of the stall included.
        Assert.Equal("completed", state.GetProperty("status").GetString());
        Assert.Equal(100, state.GetProperty("frames").GetArrayLength());
        Assert.Equal(Enumerable.Range(1, live.Count).Select(i => (long?)i), live.Select(r => r.Message.Seq));
        Assert.Equal(100, live.Count(r => r.Message.Type == "frame"));
        var log = await server.GetJsonAsync($"/v1/jobs/{id}/events?since=0&limit=1000");
        Assert.True(log.GetProperty("finished").GetBoolean());
        var logged = log.GetProperty("items").EnumerateArray().Select(i => i.GetRawText()).ToList();
        Assert.Equal(live.Select(r => r.Message.Raw), logged);
        Assert.Subset(logged.ToHashSet(), duringStall.Select(r => r.Message.Raw).ToHashSet());

        // And the server goes on: the job before the stall is intact, a new one runs.
        Assert.Equal("completed", (await server.GetJsonAsync($"/v1/jobs/{before}/extended")).GetProperty("status").GetString());
        var (after, afterState) = await server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);
        Assert.Equal("completed", afterState.GetProperty("status").GetString());
        Assert.NotEqual(before, after);
    }
}
