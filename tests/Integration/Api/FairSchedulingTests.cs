using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary>
/// Issue 16, point 5: no client holds every worker (<c>Jobs:MaxRunningJobsPerClient</c>), and a free worker takes the
/// next job round-robin between clients, not first-in-first-out. Run on SQLite here and on PostgreSQL in
/// <see cref="Persistence.FairSchedulingOnPostgresTests"/>, against the real server.
/// </summary>
public sealed class FairSchedulingTests
{
    [Fact]
    public async Task RunningCap_OfOneWithTwoWorkers_OneClientRunsOneJobAndTheOtherWorkerServesAnotherClient()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Jobs:MaxConcurrentJobs"] = "2", ["Jobs:MaxRunningJobsPerClient"] = "1", ["Auth:ApiKeys"] = "key-a,key-b",
        });
        await FairScheduling.RunningCapHoldsAsync(server);
    }

    [Fact]
    public async Task NextJob_AfterOneClientQueuedMany_IsTheNewcomersBeforeThatClientsThird()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Jobs:MaxConcurrentJobs"] = "1", ["Jobs:MaxRunningJobsPerClient"] = "1", ["Auth:ApiKeys"] = "key-a,key-b",
        });
        await FairScheduling.NewcomerIsServedNextRoundAsync(server);
    }
}

/// <summary>The scenarios, shared by both stores.</summary>
internal static class FairScheduling
{
    private static readonly string Long = ServerFixture.Synthetic(1200, fps: 20, width: 64, height: 64);
    private static readonly string Short = ServerFixture.Synthetic(2, width: 64, height: 64);

    /// <summary>
    /// key-a queues two long jobs on two workers: only one runs. key-b's job takes the other worker and completes while
    /// key-a's second is still waiting; when key-a's first ends, its second starts.
    /// </summary>
    public static async Task RunningCapHoldsAsync(ServerFixture api)
    {
        ReadAs(api, "key-a");
        var a1 = await SubmitAsync(api, "key-a", Long);
        await api.WaitForStatusAsync(a1, TimeSpan.FromSeconds(30), "running");
        var a2 = await SubmitAsync(api, "key-a", Long);

        var b1 = await SubmitAsync(api, "key-b", Short);
        var b = await api.WaitForStatusAsync(b1, TimeSpan.FromSeconds(30), "completed", "failed");
        Assert.Equal("completed", b.GetProperty("status").GetString());

        // A worker was free all along, yet key-a's second job waited: key-a is at its cap of one running job.
        Assert.Equal("queued", (await StatusAsync(api, a2)).GetProperty("status").GetString());
        Assert.Equal("running", (await StatusAsync(api, a1)).GetProperty("status").GetString());

        await CancelAsync(api, a1);
        await api.WaitForStatusAsync(a2, TimeSpan.FromSeconds(30), "running");
        await CancelAsync(api, a2);
    }

    /// <summary>
    /// One worker. key-a runs a long job and queues five short ones; then key-b queues one. When the long job ends,
    /// key-b's job runs second (after key-a's next turn), not sixth.
    /// </summary>
    public static async Task NewcomerIsServedNextRoundAsync(ServerFixture server)
    {
        ReadAs(server, "key-a");
        var first = await SubmitAsync(server, "key-a", Long);
        await server.WaitForStatusAsync(first, TimeSpan.FromSeconds(30), "running");
        var queued = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            queued.Add(await SubmitAsync(server, "key-a", Short));
        }

        var newcomer = await SubmitAsync(server, "key-b", Short);
        await CancelAsync(server, first);

        var startedA = new List<DateTimeOffset>();
        foreach (var job in queued)
        {
            var state = await server.WaitForStatusAsync(job, TimeSpan.FromSeconds(60), "completed", "failed");
            startedA.Add(state.GetProperty("started_at").GetDateTimeOffset());
        }

        var b = await server.WaitForStatusAsync(newcomer, TimeSpan.FromSeconds(60), "completed", "failed");
        var startedB = b.GetProperty("started_at").GetDateTimeOffset();

        // key-a's own jobs keep their order; key-b's comes right after key-a's next one.
        Assert.Equal(startedA.Order(), startedA);
        Assert.True(startedA[0] < startedB, $"key-b's job started at {startedB:O}, before key-a's next at {startedA[0]:O}");
        Assert.True(startedB < startedA[1], $"key-b's job started at {startedB:O}, after key-a's third at {startedA[1]:O}");
    }

    public static async Task<Guid> SubmitAsync(ServerFixture server, string key, string source)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs")
        {
            Headers = { { "X-API-Key", key } },
            Content = JsonContent.Create(new { source, plugins = new[] { "frame_quality" } }),
        };
        using var response = await server.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST /v1/jobs answered {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("job_id").GetGuid();
    }

    /// <summary>Reads (and cancels) with <paramref name="key"/> unless a request names its own key.</summary>
    private static void ReadAs(ServerFixture server, string key) => server.Http.DefaultRequestHeaders.Add("X-API-Key", key);

    private static Task<JsonElement> StatusAsync(ServerFixture server, Guid job) => server.GetJsonAsync($"/v1/jobs/{job}/extended");

    private static async Task CancelAsync(ServerFixture server, Guid job)
    {
        using var response = await server.Http.PostAsync($"/v1/jobs/{job}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }
}
