using System.Net;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Realtime;

/// <summary>Server-Sent Events on <c>/v1/realtime</c> (API.md §3.1): the same messages as WebSocket, as event/data lines.</summary>
public sealed class SseTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Sse_Connect_StreamsWelcomeAsEvents()
    {
        await using var sse = await server.ConnectSseAsync();

        Assert.Equal(HttpStatusCode.OK, sse.Response.StatusCode);
        Assert.Equal("text/event-stream", sse.Response.Content.Headers.ContentType?.MediaType);
        Assert.True(sse.Response.Headers.CacheControl?.NoCache, "an event stream must not be cached");
        var welcome = await sse.ReceiveWelcomeAsync();
        Assert.All(welcome, JobMessageAssert.IsEnvelope);
        Assert.Equal(Enumerable.Repeat("metadata", 5).Append("ping"), welcome.Select(m => m.Type));
        Assert.Contains((await server.GetStatsAsync()).GetProperty("connections").EnumerateArray(), c => c.GetProperty("transport").GetString() == "sse");
    }

    [Fact]
    public async Task Sse_SameJob_ReceivesSameSequenceAsWebSocket()
    {
        string[] plugins = ["ball_detection", "frame_quality"];
        await using var sse = await server.ConnectSseAsync();
        var (socket, _) = await server.ConnectWelcomedAsync();
        await using var ownedSocket = socket;
        await sse.ReceiveWelcomeAsync();

        var jobId = await server.SubmitJobAsync(ServerFixture.Synthetic(6), plugins);
        var overSse = await sse.ReceiveJobAsync(jobId);
        var overWebSocket = await socket.ReceiveJobAsync(jobId);

        Assert.Equal(overWebSocket.Select(m => m.Raw), overSse.Select(m => m.Raw));
        JobMessageAssert.FollowsJobOrder(overSse, jobId, plugins, frames: 6);
    }

    [Fact]
    public async Task Sse_WithJobId_ReceivesOnlyThatJob()
    {
        var jobA = await server.SubmitJobAsync(ServerFixture.Synthetic(30, fps: 10), ["motion_detection"]);
        await using var sse = await server.ConnectSseAsync($"job_id={jobA}");
        var welcome = await sse.ReceiveWelcomeAsync();
        Assert.Equal(["metadata", "ping"], welcome.Select(m => m.Type));

        var jobB = await server.SubmitJobAsync(ServerFixture.Synthetic(2), ["motion_detection"]);
        await server.WaitForStatusAsync(jobB, TimeSpan.FromSeconds(30), "completed");
        var seen = await sse.ReceiveUntilAsync(m => m.IsEndOf(jobA), TimeSpan.FromSeconds(30));

        Assert.All(seen.Where(m => m.JobId is not null), m => Assert.True(m.IsFor(jobA), m.Raw));
        Assert.Contains(seen, m => m.Type == "frame");
    }

    [Theory]
    [InlineData("session_id=nope", HttpStatusCode.BadRequest)]
    [InlineData("session_id=", HttpStatusCode.BadRequest)]
    [InlineData("job_id=", HttpStatusCode.NotFound)]
    [InlineData("job_id=00000000-0000-0000-0000-000000000000", HttpStatusCode.NotFound)]
    public async Task Sse_Refused_ReturnsMatchingProblem(string query, HttpStatusCode status)
    {
        await using var sse = await server.ConnectSseAsync(query);

        Assert.Equal(status, sse.Response.StatusCode);
        Assert.Equal("application/problem+json", sse.Response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await sse.ReadToEndAsync());
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Sse_ClientGoesAway_ConnectionRemoved()
    {
        var session = Guid.NewGuid();
        var sse = await server.ConnectSseAsync($"session_id={session}");
        await sse.ReceiveWelcomeAsync();
        Assert.Single(await server.SessionConnectionsAsync(session));

        await sse.DisposeAsync();

        await ServerFixture.WaitUntilAsync(
            async () => (await server.SessionConnectionsAsync(session)).Count == 0, TimeSpan.FromSeconds(10), "the SSE connection is still listed");
    }
}
