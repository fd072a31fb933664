using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Realtime;

/// <summary>The realtime endpoint on the real host (API.md §3; matrix §1.1, 1.2, 1.4): connecting, receiving, closing.</summary>
public sealed class RealtimeEndpointTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly string[] BuiltInPlugins =
        ["ball_detection", "frame_quality", "motion_detection", "pitch_detection", "player_detection"];

    // ---- 1.1 smoke ----

    [Fact]
    public async Task WebsocketEndpointExists()
    {
        await using var client = await server.ConnectAsync();

        Assert.Equal(HttpStatusCode.SwitchingProtocols, client.Socket.HttpStatusCode);
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    [Fact]
    public async Task WebsocketConnectionAccepted()
    {
        var session = Guid.NewGuid();
        await using var client = await server.ConnectAsync($"session_id={session}");

        var welcome = await client.ReceiveWelcomeAsync();

        // One metadata message per registered plugin, then a ping (no job: every plugin).
        Assert.All(welcome, JobMessageAssert.IsEnvelope);
        var metadata = welcome.Take(welcome.Count - 1).ToList();
        Assert.All(metadata, m => Assert.Equal("metadata", m.Type));
        Assert.Equal(BuiltInPlugins, metadata.Select(m => m.Str("plugin")!).Order(StringComparer.Ordinal));
        foreach (var m in metadata)
        {
            var info = m.Payload.GetProperty("metadata");
            foreach (var field in new[] { "version", "model", "input_shape", "output_format", "confidence_default", "capabilities" })
            {
                Assert.True(info.TryGetProperty(field, out _), $"metadata lacks {field}: {m.Raw}");
            }
        }

        Assert.Equal(30, welcome[^1].Payload.GetProperty("interval_seconds").GetInt32());
        Assert.Single(await server.SessionConnectionsAsync(session));
    }

    [Fact]
    public async Task WebsocketConnectionRefusedInvalidUrl()
    {
        foreach (var path in new[] { "/v1/realtimex", "/v1/realtime/nope", "/v1/nope" })
        {
            using var socket = new ClientWebSocket();
            socket.Options.CollectHttpResponseDetails = true;
            var uri = new UriBuilder(server.BaseAddress) { Scheme = "ws", Path = path }.Uri;

            await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, CancellationToken.None));

            Assert.Equal(HttpStatusCode.NotFound, socket.HttpStatusCode);
        }
    }

    [Fact]
    public async Task WebsocketMultipleConnections()
    {
        var sessions = Enumerable.Range(0, 6).Select(_ => Guid.NewGuid()).ToList();
        var clients = await Task.WhenAll(sessions.Select(s => server.ConnectWelcomedAsync($"session_id={s}")));
        try
        {
            Assert.All(clients, c => Assert.Equal(WebSocketState.Open, c.Client.Socket.State));
            Assert.All(clients, c => Assert.Equal(BuiltInPlugins.Length + 1, c.Welcome.Count));

            var ids = new List<Guid>();
            foreach (var session in sessions)
            {
                var connection = Assert.Single(await server.SessionConnectionsAsync(session));
                ids.Add(connection.GetProperty("connection_id").GetGuid());
            }

            Assert.Equal(6, ids.Distinct().Count());
            var stats = await server.GetStatsAsync();
            Assert.True(stats.GetProperty("open").GetInt32() >= 6);
        }
        finally
        {
            foreach (var (client, _) in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    // ---- 1.2 message flow ----

    [Fact]
    public async Task WebsocketReceivesFrameMessage()
    {
        var (jobId, messages) = await WatchJobAsync(ServerFixture.Synthetic(3), ["ball_detection"]);

        var frames = messages.Where(m => m.Type == "frame").ToList();
        Assert.Equal([JobMessageAssert.FrameId(1), JobMessageAssert.FrameId(2), JobMessageAssert.FrameId(3)], frames.Select(f => f.Str("frame_id")));
        foreach (var frame in frames)
        {
            JobMessageAssert.IsEnvelope(frame);
            Assert.Equal(jobId.ToString(), frame.Str("job_id"));
            Assert.Equal("ball_detection", frame.Str("plugin"));
            Assert.Equal(JsonValueKind.Object, frame.Payload.GetProperty("data").ValueKind);
            Assert.True(frame.Payload.GetProperty("data").TryGetProperty("balls", out _), frame.Raw);
            Assert.True(frame.Payload.GetProperty("timing_ms").GetDouble() >= 0);
            Assert.Equal("cpu", frame.Str("device_used"));
        }
    }

    [Fact]
    public async Task WebsocketReceivesProgressMessage()
    {
        var (jobId, messages) = await WatchJobAsync(ServerFixture.Synthetic(4), ["motion_detection"]);

        var progress = messages.Where(m => m.Type == "progress").ToList();
        Assert.All(progress, JobMessageAssert.IsEnvelope);
        Assert.All(progress, p => Assert.Equal(jobId.ToString(), p.Str("job_id")));
        Assert.Equal([0, 25, 50, 75, 99, 100], progress.Select(p => p.Payload.GetProperty("progress").GetInt32()));
        Assert.Equal("completed", progress[^1].Str("stage"));
    }

    [Fact]
    public async Task WebsocketReceivesPluginStatusMessage()
    {
        string[] plugins = ["ball_detection", "motion_detection"];
        var (jobId, messages) = await WatchJobAsync(ServerFixture.Synthetic(2), plugins);

        var statuses = messages.Where(m => m.Type == "plugin_status").ToList();
        Assert.All(statuses, JobMessageAssert.IsEnvelope);
        Assert.Equal(
            ["ball_detection/started", "motion_detection/started", "ball_detection/completed", "motion_detection/completed"],
            statuses.Select(s => $"{s.Str("plugin")}/{s.Str("status")}"));
        foreach (var completed in statuses.Skip(2))
        {
            Assert.Equal(jobId.ToString(), completed.Str("job_id"));
            Assert.True(completed.Payload.GetProperty("timing_ms").GetDouble() > 0, completed.Raw);
            Assert.Equal(2, completed.Payload.GetProperty("frames_processed").GetInt32());
            Assert.Equal(0, completed.Payload.GetProperty("warnings_count").GetInt32());
        }
    }

    [Fact]
    public async Task WebsocketReceivesWarningMessage()
    {
        var source = server.WriteMedia($"dark-{Guid.NewGuid():N}.bmp", TestMedia.BlackBmp());

        var (jobId, messages) = await WatchJobAsync(source, ["frame_quality"]);

        var warning = Assert.Single(messages, m => m.Type == "warning");
        JobMessageAssert.IsEnvelope(warning);
        Assert.Equal("frame_quality", warning.Str("plugin"));
        Assert.Contains("underexposed", warning.Str("message"), StringComparison.Ordinal);
        Assert.Equal("medium", warning.Str("severity"));
        Assert.Equal(JobMessageAssert.FrameId(1), warning.Str("frame_id"));
        Assert.Equal(jobId.ToString(), warning.Str("job_id"));
        var completed = Assert.Single(messages, m => m.Type == "plugin_status" && m.Str("status") == "completed");
        Assert.Equal(1, completed.Payload.GetProperty("warnings_count").GetInt32());
    }

    [Fact]
    public async Task WebsocketReceivesErrorMessage()
    {
        var source = server.WriteMedia($"bad-{Guid.NewGuid():N}.mp4", TestMedia.Garbage());

        var (jobId, messages) = await WatchJobAsync(source, ["motion_detection"]);

        var error = Assert.Single(messages, m => m.Type == "error");
        JobMessageAssert.IsEnvelope(error);
        Assert.Equal(jobId.ToString(), error.Str("job_id"));
        Assert.False(string.IsNullOrWhiteSpace(error.Str("error")));
        var details = error.Payload.GetProperty("details");
        Assert.Equal("SOURCE_UNREADABLE", details.GetProperty("error_code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(details.GetProperty("message").GetString()));
        Assert.Equal("failed", messages[^1].Str("stage"));
    }

    // ---- 1.4 disconnects ----

    [Fact]
    public async Task WebsocketClientDisconnect()
    {
        var session = Guid.NewGuid();
        var (client, _) = await server.ConnectWelcomedAsync($"session_id={session}");
        await using var owned = client;
        Assert.Single(await server.SessionConnectionsAsync(session));

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", deadline.Token);

        // The server answered the close handshake (with our code) and freed the connection.
        Assert.Equal(WebSocketState.Closed, client.Socket.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        await ServerFixture.WaitUntilAsync(
            async () => (await server.SessionConnectionsAsync(session)).Count == 0, TimeSpan.FromSeconds(5), "the closed connection is still listed");
    }

    [Fact]
    public async Task WebsocketNetworkError()
    {
        var victimSession = Guid.NewGuid();
        var others = new[] { Guid.NewGuid(), Guid.NewGuid() };
        var (victim, _) = await server.ConnectWelcomedAsync($"session_id={victimSession}");
        var bystanders = await Task.WhenAll(others.Select(s => server.ConnectWelcomedAsync($"session_id={s}")));
        try
        {
            Assert.Single(await server.SessionConnectionsAsync(victimSession));

            victim.Socket.Abort();

            await ServerFixture.WaitUntilAsync(
                async () => (await server.SessionConnectionsAsync(victimSession)).Count == 0, TimeSpan.FromSeconds(10),
                "the broken connection was not removed");
            foreach (var (session, (client, _)) in others.Zip(bystanders))
            {
                Assert.Single(await server.SessionConnectionsAsync(session));
                Assert.Equal(WebSocketState.Open, client.Socket.State);

                // Still served both ways: it is answered, and it gets what is published.
                await client.SendTextAsync("not json");
                var answer = await client.ReceiveUntilAsync(m => m.Type == "error" && m.JobId is null, TimeSpan.FromSeconds(5));
                Assert.Equal("MSG_INVALID_JSON", answer[^1].Payload.GetProperty("details").GetProperty("error_code").GetString());
            }

            var jobId = await server.SubmitJobAsync(ServerFixture.Synthetic(2), ["motion_detection"]);
            foreach (var (client, _) in bystanders)
            {
                Assert.Contains(await client.ReceiveJobAsync(jobId), m => m.Type == "frame");
            }
        }
        finally
        {
            await victim.DisposeAsync();
            foreach (var (client, _) in bystanders)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task WebsocketReconnect()
    {
        var session = Guid.NewGuid();
        var first = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => server.ConnectWelcomedAsync($"session_id={session}")));
        var clients = first.Select(c => c.Client).ToList();
        try
        {
            var before = (await server.SessionConnectionsAsync(session)).Select(c => c.GetProperty("connection_id").GetGuid()).ToHashSet();
            Assert.Equal(5, before.Count);

            // The session is full; one client drops and reconnects: its slot was freed, so it is accepted anew.
            await clients[0].DisposeAsync();
            clients.RemoveAt(0);
            await ServerFixture.WaitUntilAsync(
                async () => (await server.SessionConnectionsAsync(session)).Count == 4, TimeSpan.FromSeconds(5), "the closed connection is still listed");

            var (again, welcome) = await server.ConnectWelcomedAsync($"session_id={session}");
            clients.Add(again);

            Assert.Equal(WebSocketState.Open, again.Socket.State);
            Assert.Equal("ping", welcome[^1].Type);
            var after = (await server.SessionConnectionsAsync(session)).Select(c => c.GetProperty("connection_id").GetGuid()).ToHashSet();
            Assert.Equal(5, after.Count);
            Assert.Single(after.Except(before));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    // ---- refusals (API.md §3.1) ----

    [Theory]
    [InlineData("session_id=not-a-uuid")]
    [InlineData("session_id=12345")]
    [InlineData("session_id=6f1c0000-0000-0000-0000-000000000001&session_id=6f1c0000-0000-0000-0000-000000000002")]
    [InlineData("session_id=")]
    public async Task Connect_InvalidSessionId_ClosesWith4000(string query)
    {
        await using var client = await server.ConnectAsync(query);

        var received = await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(received);
        Assert.Equal(4000, (int?)client.CloseStatus);
        Assert.Contains("session_id", client.CloseDescription, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_SixthConnectionOfOneSession_ClosesWith4001()
    {
        var session = Guid.NewGuid();
        var five = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => server.ConnectWelcomedAsync($"session_id={session}")));
        try
        {
            await using var sixth = await server.ConnectAsync($"session_id={session}");

            var received = await sixth.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));

            Assert.Empty(received);
            Assert.Equal(4001, (int?)sixth.CloseStatus);
            Assert.All(five, c => Assert.Equal(WebSocketState.Open, c.Client.Socket.State));
            Assert.Equal(5, (await server.SessionConnectionsAsync(session)).Count);

            // Another session is not affected by this one being full.
            var (other, _) = await server.ConnectWelcomedAsync($"session_id={Guid.NewGuid()}");
            await other.DisposeAsync();
        }
        finally
        {
            foreach (var (client, _) in five)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData("job_id=00000000-0000-0000-0000-000000000000")]
    [InlineData("job_id=6f1c9a52-1111-4222-8333-944455556666")]
    [InlineData("job_id=not-a-job")]
    [InlineData("job_id=")]
    [InlineData("job_id=6f1c9a52-1111-4222-8333-944455556666&job_id=6f1c9a52-1111-4222-8333-944455556666")]
    public async Task Connect_UnknownJobId_ClosesWith4004(string query)
    {
        await using var client = await server.ConnectAsync(query);

        var received = await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(received);
        Assert.Equal(4004, (int?)client.CloseStatus);
    }

    [Fact]
    public async Task Get_WithoutUpgradeOrEventStream_Returns400Problem()
    {
        using var response = await server.Http.GetAsync("/v1/realtime");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(400, problem.RootElement.GetProperty("status").GetInt32());
    }

    // ---- client input (API.md §3.6) ----

    [Theory]
    [InlineData("this is not json", "MSG_INVALID_JSON")]
    [InlineData("{\"type\":\"pong\",\"payload\":", "MSG_INVALID_JSON")]
    [InlineData("[1,2,3]", "MSG_INVALID_JSON")]
    [InlineData("{\"payload\":{},\"timestamp\":\"2026-01-01T00:00:00.000000Z\"}", "MSG_MISSING_FIELD")]
    [InlineData("{\"type\":\"pong\",\"timestamp\":\"2026-01-01T00:00:00.000000Z\"}", "MSG_MISSING_FIELD")]
    [InlineData("{\"type\":\"pong\",\"payload\":{},\"timestamp\":\"2026-01-01T00:00:00.000000Z\"}", "MSG_MISSING_FIELD")]
    [InlineData("{\"type\":\"hello\",\"payload\":{},\"timestamp\":\"2026-01-01T00:00:00.000000Z\"}", "MSG_UNKNOWN_TYPE")]
    [InlineData("{\"type\":\"frame\",\"payload\":{},\"timestamp\":\"2026-01-01T00:00:00.000000Z\"}", "MSG_UNKNOWN_TYPE")]
    public async Task ClientMessage_Malformed_AnsweredWithErrorCodeAndConnectionStaysOpen(string text, string errorCode)
    {
        var session = Guid.NewGuid();
        var (client, _) = await server.ConnectWelcomedAsync($"session_id={session}");
        await using var owned = client;

        await client.SendTextAsync(text);
        var error = (await client.ReceiveUntilAsync(m => m.Type == "error" && m.JobId is null, TimeSpan.FromSeconds(5)))[^1];

        JobMessageAssert.IsEnvelope(error);
        Assert.False(string.IsNullOrWhiteSpace(error.Str("error")));
        Assert.Equal(errorCode, error.Payload.GetProperty("details").GetProperty("error_code").GetString());

        // Still open: a valid pong is taken silently, and the next bad message is answered again.
        Assert.Equal(WebSocketState.Open, client.Socket.State);
        await client.SendPongAsync();
        await client.SendTextAsync(text);
        var again = (await client.ReceiveUntilAsync(m => m.Type == "error" && m.JobId is null, TimeSpan.FromSeconds(5)))[^1];
        Assert.Equal(errorCode, again.Payload.GetProperty("details").GetProperty("error_code").GetString());
        Assert.Single(await server.SessionConnectionsAsync(session));
    }

    [Fact]
    public async Task ClientMessage_Over4KiB_ClosesWith1009()
    {
        var session = Guid.NewGuid();
        var (client, _) = await server.ConnectWelcomedAsync($"session_id={session}");
        await using var owned = client;

        await client.SendTextAsync(Pong(padding: 5000));
        await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, client.CloseStatus);
        await ServerFixture.WaitUntilAsync(
            async () => (await server.SessionConnectionsAsync(session)).Count == 0, TimeSpan.FromSeconds(5), "the closed connection is still listed");
    }

    [Fact]
    public async Task ClientMessage_Exactly4KiB_IsAccepted()
    {
        var (client, _) = await server.ConnectWelcomedAsync();
        await using var owned = client;
        var text = Pong(padding: 0);
        text = Pong(padding: 4096 - text.Length);
        Assert.Equal(4096, System.Text.Encoding.UTF8.GetByteCount(text));

        await client.SendTextAsync(text);
        await client.SendTextAsync("not json");

        // The 4 KiB pong was read and taken silently: the next message is answered, the connection is open.
        var error = (await client.ReceiveUntilAsync(m => m.Type == "error" && m.JobId is null, TimeSpan.FromSeconds(5)))[^1];
        Assert.Equal("MSG_INVALID_JSON", error.Payload.GetProperty("details").GetProperty("error_code").GetString());
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    // ---- subscriptions ----

    [Fact]
    public async Task Subscribe_WithJobId_ReceivesOnlyThatJobsMessages()
    {
        var (everything, _) = await server.ConnectWelcomedAsync();
        await using var ownedEverything = everything;

        // Job A is paced (about 4 s) so that job B starts and ends while A's subscriber is listening.
        var jobA = await server.SubmitJobAsync(ServerFixture.Synthetic(40, fps: 10), ["motion_detection"]);
        var (onlyA, _) = await server.ConnectWelcomedAsync($"job_id={jobA}");
        await using var ownedOnlyA = onlyA;
        var jobB = await server.SubmitJobAsync(ServerFixture.Synthetic(3), ["motion_detection"]);
        await server.WaitForStatusAsync(jobB, TimeSpan.FromSeconds(30), "completed");
        var stateOfA = await server.GetJsonAsync($"/v1/jobs/{jobA}/extended");
        Assert.True(stateOfA.GetProperty("status").GetString() == "running", "job A ended before job B did; the test proves nothing");

        var seenByA = await onlyA.ReceiveUntilAsync(m => m.IsEndOf(jobA), TimeSpan.FromSeconds(30));

        Assert.DoesNotContain(seenByA, m => m.IsFor(jobB));
        Assert.All(seenByA.Where(m => m.JobId is not null), m => Assert.True(m.IsFor(jobA), m.Raw));
        Assert.Contains(seenByA, m => m.Type == "frame" && m.IsFor(jobA));

        // The unfiltered subscriber did get job B: the messages existed.
        var seenByAll = await everything.ReceiveUntilAsync(m => m.IsEndOf(jobA), TimeSpan.FromSeconds(30));
        Assert.Contains(seenByAll, m => m.Type == "frame" && m.IsFor(jobB));
    }

    [Fact]
    public async Task Subscribe_WithJobId_WelcomesWithThatJobsPluginsAndProgress()
    {
        var jobId = await server.SubmitJobAsync(ServerFixture.Synthetic(40, fps: 20), ["frame_quality", "ball_detection"]);
        await ServerFixture.WaitUntilAsync(
            async () => (await server.GetJsonAsync($"/v1/jobs/{jobId}/extended")).GetProperty("status").GetString() == "running",
            TimeSpan.FromSeconds(15), "the job did not start");

        await using var client = await server.ConnectAsync($"job_id={jobId}");
        var first = new List<ReceivedMessage>();
        for (var i = 0; i < 4; i++)
        {
            first.Add((await client.ReceiveAsync())!);
        }

        Assert.Equal(["metadata", "metadata", "ping", "progress"], first.Select(m => m.Type));
        Assert.Equal(["frame_quality", "ball_detection"], first.Take(2).Select(m => m.Str("plugin")));
        Assert.True(first[3].IsFor(jobId));
        Assert.InRange(first[3].Payload.GetProperty("progress").GetInt32(), 0, 100);
        await client.ReceiveJobAsync(jobId);
    }

    [Fact]
    public async Task Subscribe_ToFinishedJob_GetsFinalProgressButNoHistory()
    {
        var (jobId, job) = await server.RunJobAsync(ServerFixture.Synthetic(3), ["motion_detection"]);
        Assert.Equal("completed", job.GetProperty("status").GetString());

        var (client, welcome) = await server.ConnectWelcomedAsync($"job_id={jobId}");
        await using var owned = client;
        var progress = await client.ReceiveAsync();

        Assert.Equal(["metadata", "ping"], welcome.Select(m => m.Type));
        Assert.NotNull(progress);
        Assert.True(progress.IsEndOf(jobId), progress.Raw);
        Assert.Equal("completed", progress.Str("stage"));
        await client.ExpectNothingBeforeProbeAsync();
    }

    /// <summary>Connects an unfiltered client first (history is not replayed), submits, and reads the job to its end.</summary>
    private async Task<(Guid JobId, List<ReceivedMessage> Messages)> WatchJobAsync(string source, string[] plugins)
    {
        var (client, _) = await server.ConnectWelcomedAsync();
        await using var owned = client;
        var jobId = await server.SubmitJobAsync(source, plugins);
        return (jobId, await client.ReceiveJobAsync(jobId));
    }

    private static string Pong(int padding) =>
        $$"""{"type":"pong","payload":{"timestamp":"2026-01-01T00:00:00.000000Z","pad":"{{new string('x', padding)}}"},"timestamp":"2026-01-01T00:00:00.000000Z"}""";
}
