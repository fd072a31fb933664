using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Realtime;

/// <summary>
/// Resume points at and past the end of a job's stream (API.md §3.8, §2.7), and the query checks of the event stream,
/// as a black-box probe sent them to the real server.
/// </summary>
public sealed class ResumeBoundaryTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string MaxSince = "9223372036854775807";

    [Fact]
    public async Task WebSocket_SinceMaxLongOnAFinishedJob_NoReplayUnavailableNothingReplayedThenClosed1000()
    {
        var id = await FinishedJobAsync();
        await using var client = await server.ConnectAsync($"job_id={id}&since={MaxSince}");

        var received = await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));

        AssertOnlyTheWelcome(received);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Sse_SinceMaxLongOnAFinishedJob_NoReplayUnavailableNothingReplayedThenEnds()
    {
        var id = await FinishedJobAsync();
        await using var sse = await server.ConnectSseAsync($"job_id={id}&since={MaxSince}");

        Assert.Equal(HttpStatusCode.OK, sse.Response.StatusCode);
        AssertOnlyTheWelcome(await ReadUntilEndAsync(sse));
    }

    [Fact]
    public async Task EventsEndpoint_SinceMaxLong_IsAnEmptyFinishedPageNot410()
    {
        var id = await FinishedJobAsync();

        var page = await server.GetJsonAsync($"/v1/jobs/{id}/events?since={MaxSince}");

        Assert.Empty(page.GetProperty("items").EnumerateArray());
        Assert.Equal(long.MaxValue, page.GetProperty("next_since").GetInt64());
        Assert.True(page.GetProperty("finished").GetBoolean());
    }

    [Fact]
    public async Task WebSocket_SinceMaxLongOnARunningJob_WelcomeHasNoReplayUnavailable()
    {
        var id = await server.SubmitJobAsync(ServerFixture.Synthetic(600, fps: 30, width: 64, height: 64), ["frame_quality"]);
        try
        {
            await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(30), "running");
            var (client, welcome) = await server.ConnectWelcomedAsync($"job_id={id}&since={MaxSince}");
            await using var owned = client;

            // The answer to a bad input is queued behind the welcome and whatever the resume sends: once it is here,
            // a REPLAY_UNAVAILABLE or a replayed message would have arrived before it.
            await client.SendTextAsync("not json");
            var before = await client.ReceiveUntilAsync(IsInvalidJsonAnswer, TimeSpan.FromSeconds(10));
            AssertOnlyTheWelcome([.. welcome, .. before.SkipLast(1).Where(m => m.Type != "ping")]);
        }
        finally
        {
            using var cancelled = await server.Http.PostAsync($"/v1/jobs/{id}/cancel", null);
        }
    }

    [Fact]
    public async Task WebSocket_SinceTheLastSeqOfAFinishedJob_SendsTheWelcomeThenCloses1000()
    {
        var id = await FinishedJobAsync();
        var last = await LastSeqAsync(id);
        await using var client = await server.ConnectAsync($"job_id={id}&since={last}");

        var received = await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));

        AssertOnlyTheWelcome(received);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Sse_LastEventIdOfAFinishedJobsLastSeq_SendsTheWelcomeThenEnds()
    {
        var id = await FinishedJobAsync();
        var last = await LastSeqAsync(id);
        await using var sse = await server.ConnectSseAsync($"job_id={id}", lastEventId: last.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(HttpStatusCode.OK, sse.Response.StatusCode);
        AssertOnlyTheWelcome(await ReadUntilEndAsync(sse));
    }

    [Fact]
    public async Task WebSocket_SinceBeforeTheEndOfAFinishedJob_ReplaysTheRestThenCloses1000()
    {
        var id = await FinishedJobAsync();
        var last = await LastSeqAsync(id);
        await using var client = await server.ConnectAsync($"job_id={id}&since={last - 3}");

        var received = await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([last - 2, last - 1, last], received.Where(m => m.Seq is not null).Select(m => m.Seq!.Value));
        Assert.True(received[^1].IsEndOf(id), received[^1].Raw);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Sse_SinceGivenTwice_Is400ProblemNamingSince()
    {
        var id = await FinishedJobAsync();
        await using var sse = await server.ConnectSseAsync($"job_id={id}&since=1&since=2");

        Assert.Equal(HttpStatusCode.BadRequest, sse.Response.StatusCode);
        using var problem = JsonDocument.Parse(await sse.ReadToEndAsync());
        Assert.Equal("Invalid since.", problem.RootElement.GetProperty("title").GetString());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("since", out _), problem.RootElement.GetRawText());
        Assert.False(problem.RootElement.GetProperty("errors").TryGetProperty("session_id", out _), problem.RootElement.GetRawText());
    }

    [Theory]
    [InlineData("session_id=nope")]
    [InlineData("session_id=00000000-0000-0000-0000-000000000001&session_id=00000000-0000-0000-0000-000000000002")]
    public async Task Sse_InvalidSessionId_Is400ProblemNamingSessionId(string query)
    {
        await using var sse = await server.ConnectSseAsync(query);

        Assert.Equal(HttpStatusCode.BadRequest, sse.Response.StatusCode);
        using var problem = JsonDocument.Parse(await sse.ReadToEndAsync());
        Assert.Equal("Invalid session_id.", problem.RootElement.GetProperty("title").GetString());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("session_id", out _), problem.RootElement.GetRawText());
    }

    private static bool IsInvalidJsonAnswer(ReceivedMessage message) =>
        message.Type == "error" && message.Payload.TryGetProperty("details", out var details)
        && details.GetProperty("error_code").GetString() == "MSG_INVALID_JSON";

    /// <summary>The welcome of a job with one plugin: its metadata and a ping, no job message and no error (no false REPLAY_UNAVAILABLE).</summary>
    private static void AssertOnlyTheWelcome(List<ReceivedMessage> received) =>
        Assert.True(received.Select(m => m.Type).SequenceEqual(["metadata", "ping"]), string.Join(" | ", received));

    private async Task<Guid> FinishedJobAsync() => (await server.RunJobAsync(ServerFixture.Synthetic(3, width: 64, height: 64), ["frame_quality"])).Id;

    private async Task<long> LastSeqAsync(Guid id)
    {
        var page = await server.GetJsonAsync($"/v1/jobs/{id}/events?since=0&limit=1000");
        Assert.True(page.GetProperty("finished").GetBoolean());
        return page.GetProperty("next_since").GetInt64();
    }

    /// <summary>Reads the event stream until the server ends it (bounded); returns what arrived.</summary>
    private static async Task<List<ReceivedMessage>> ReadUntilEndAsync(SseClient sse)
    {
        var received = new List<ReceivedMessage>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (await sse.ReceiveAsync(TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (TimeSpan.FromSeconds(10) - clock.Elapsed).Ticks))) is { } message)
        {
            received.Add(message);
        }

        return received;
    }
}
