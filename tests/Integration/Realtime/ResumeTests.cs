using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Realtime;

/// <summary>
/// API.md §3.8 and §2.7 against the real server: every job message has its seq; a late or reconnecting subscriber
/// resumes with <c>since</c> (or SSE's <c>Last-Event-ID</c>) and gets every message exactly once, in order, with the very
/// bytes the others got; <c>GET /v1/jobs/{id}/events</c> reads the same log.
/// </summary>
public sealed class ResumeTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public async Task InitializeAsync() => _server = await ServerFixture.StartAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task SinceZero_SubscribersConnecting0To500MsAfterSubmission_ReceiveExactlyWhatAnEarlySubscriberReceived()
    {
        // The early subscriber follows every job, so it is there before the job exists.
        var (early, _) = await _server.ConnectWelcomedAsync();
        await using var ownedEarly = early;
        var id = await _server.SubmitJobAsync(ServerFixture.Synthetic(40, fps: 100), ["frame_quality", "motion_detection"]);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var late = await Task.WhenAll(new[] { 0, 50, 500 }.Select(async delayMs =>
        {
            var wait = TimeSpan.FromMilliseconds(delayMs) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            var (client, welcome) = await _server.ConnectWelcomedAsync($"job_id={id}&since=0");
            await using var owned = client;
            Assert.All(welcome, m => Assert.Null(m.Seq));
            return await client.ReceiveJobAsync(id, TimeSpan.FromSeconds(30));
        }));
        var expected = await early.ReceiveJobAsync(id, TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(1, expected.Count).Select(i => (long?)i), expected.Select(m => m.Seq));
        Assert.All(late, received => Assert.Equal(expected.Select(m => m.Raw), received.Select(m => m.Raw)));
    }

    [Fact]
    public async Task WebSocket_TwentyRandomDisconnectsDuringAPacedJob_ResumingWithTheLastSeqGivesEveryMessageOnceInOrder()
    {
        var id = await _server.SubmitJobAsync(ServerFixture.Synthetic(300, fps: 150, width: 64, height: 64), ["frame_quality"]);
        var random = new Random(8);
        var received = new List<ReceivedMessage>();
        for (var reconnect = 0; ; reconnect++)
        {
            var since = received.Count == 0 ? 0 : received[^1].Seq!.Value;
            var (client, _) = await _server.ConnectWelcomedAsync($"job_id={id}&since={since}");
            if (reconnect == 20)
            {
                await using var last = client;
                received.AddRange(await client.ReceiveJobAsync(id, TimeSpan.FromSeconds(30)));
                break;
            }

            // Read a few messages, then drop the connection without a close handshake, as a network failure does.
            var take = random.Next(1, 30);
            for (var i = 0; i < take; i++)
            {
                received.Add((await client.ReceiveAsync(TimeSpan.FromSeconds(10)))!);
                if (received[^1].IsEndOf(id))
                {
                    break;
                }
            }

            client.Socket.Abort();
            await client.DisposeAsync();
            await Task.Delay(random.Next(0, 40));
        }

        AssertWholeJob(id, received);
        Assert.Equal(await AllEventsAsync(id), received.Select(m => m.Raw));
    }

    [Fact]
    public async Task Sse_TwentyRandomDisconnectsDuringAPacedJob_LastEventIdGivesEveryMessageOnceInOrder()
    {
        var id = await _server.SubmitJobAsync(ServerFixture.Synthetic(300, fps: 150, width: 64, height: 64), ["frame_quality"]);
        var random = new Random(9);
        var received = new List<ReceivedMessage>();
        string? lastEventId = null;
        for (var reconnect = 0; ; reconnect++)
        {
            // As an EventSource does: the same URL each time (since=0), and the last id it saw as Last-Event-ID.
            await using var client = await _server.ConnectSseAsync($"job_id={id}&since=0", lastEventId);
            Assert.Equal(HttpStatusCode.OK, client.Response.StatusCode);
            await client.ReceiveWelcomeAsync();
            if (reconnect == 20)
            {
                received.AddRange(await client.ReceiveJobAsync(id, TimeSpan.FromSeconds(30)));
                break;
            }

            var take = random.Next(1, 30);
            for (var i = 0; i < take; i++)
            {
                received.Add((await client.ReceiveAsync(TimeSpan.FromSeconds(10)))!);
                if (received[^1].IsEndOf(id))
                {
                    break;
                }
            }

            lastEventId = client.LastEventId;
        }

        AssertWholeJob(id, received);
        Assert.Equal(await AllEventsAsync(id), received.Select(m => m.Raw));
    }

    [Fact]
    public async Task FrozenClient_DroppedFrames_AreRefilledThroughTheEventsEndpoint()
    {
        // A client that never reads, with a tiny receive window, following every job: its queue fills and frames drop.
        // 40,000 frame messages (~12 MB) are well past what loopback socket buffers absorb (up to ~4 MB of them, sent in
        // runs); the queue holds every message that may not be dropped (~110), so the client is not closed as a slow consumer.
        var server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Realtime:QueueCapacity"] = "300" });
        try
        {
            await RefillFromEventsAsync(server);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task RefillFromEventsAsync(ServerFixture server)
    {
        using var socket = await ConnectRawAsync(server.BaseAddress, "/v1/realtime");
        var (id, _) = await server.RunJobAsync("synthetic:pitch?frames=20000&width=64&height=64", ["frame_quality", "pitch_detection"]);

        using var frozen = WebSocket.CreateFromStream(new NetworkStream(socket), new WebSocketCreationOptions { IsServer = false });
        var live = new List<ReceivedMessage>();
        var buffer = new byte[1 << 16];
        while (live.Count == 0 || !live[^1].IsEndOf(id))
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await frozen.ReceiveAsync(buffer.AsMemory(length), deadline.Token);
                length += result.Count;
            }
            while (!result.EndOfMessage);

            var message = ReceivedMessage.Parse(Encoding.UTF8.GetString(buffer, 0, length));
            if (message.IsFor(id))
            {
                live.Add(message);
            }
        }

        var seqs = live.Select(m => m.Seq!.Value).ToList();
        var gaps = seqs.Zip(seqs.Skip(1)).Where(p => p.Second != p.First + 1).ToList();
        Assert.NotEmpty(gaps);
        Assert.Equal(1, seqs[0]);

        // Each gap, read back from the log: (first, second) exclusive, in pages of at most 1000.
        var missed = new List<ReceivedMessage>();
        foreach (var (before, after) in gaps)
        {
            for (var since = before; since < after - 1;)
            {
                var page = await server.GetJsonAsync($"/v1/jobs/{id}/events?since={since}&limit={Math.Min(after - since - 1, 1000)}");
                var items = page.GetProperty("items").EnumerateArray().Select(i => ReceivedMessage.Parse(i.GetRawText())).ToList();
                Assert.NotEmpty(items);
                missed.AddRange(items);
                since = items[^1].Seq!.Value;
            }
        }

        // Only frames were dropped (API.md §3.5: frame and partial_result may be, and this job reports no partial
        // results): every progress, plugin status and the end arrived live.
        Assert.Equal(gaps.Sum(g => g.Second - g.First - 1), missed.Count);
        Assert.All(missed, m => Assert.True(m.Type == "frame", $"a {m.Type} message was dropped: {m.Raw}"));
        Assert.Contains(live, m => m.Type == "progress" && !m.IsEndOf(id));

        var complete = live.Concat(missed).OrderBy(m => m.Seq).ToList();
        Assert.Equal(Enumerable.Range(1, complete.Count).Select(i => (long?)i), complete.Select(m => m.Seq));
        Assert.Equal(await AllEventsAsync(server, id), complete.Select(m => m.Raw));
    }

    [Fact]
    public async Task EventsEndpoint_PagesThroughAFinishedJob_UntilFinished()
    {
        var (id, _) = await _server.RunJobAsync(ServerFixture.Synthetic(30), ["frame_quality"]);

        var first = await _server.GetJsonAsync($"/v1/jobs/{id}/events?since=0&limit=10");
        Assert.Equal(10, first.GetProperty("items").GetArrayLength());
        Assert.Equal(10, first.GetProperty("next_since").GetInt64());
        Assert.False(first.GetProperty("finished").GetBoolean());
        var all = await AllEventsAsync(id);
        var end = await _server.GetJsonAsync($"/v1/jobs/{id}/events?since={all.Count}");
        Assert.Empty(end.GetProperty("items").EnumerateArray());
        Assert.Equal(all.Count, end.GetProperty("next_since").GetInt64());
        Assert.True(end.GetProperty("finished").GetBoolean());
        Assert.True(ReceivedMessage.Parse(all[^1]).IsEndOf(id));
    }

    [Theory]
    [InlineData("since=-1", "since")]
    [InlineData("since=abc", "since")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=x", "limit")]
    public async Task EventsEndpoint_InvalidQuery_Is400WithTheField(string query, string field)
    {
        var (id, _) = await _server.RunJobAsync(ServerFixture.Synthetic(2), ["frame_quality"]);

        using var response = await _server.Http.GetAsync($"/v1/jobs/{id}/events?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), problem.RootElement.GetRawText());
    }

    [Fact]
    public async Task EventsEndpoint_UnknownJob_Is404()
    {
        using var response = await _server.Http.GetAsync($"/v1/jobs/{Guid.NewGuid()}/events");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData("since=abc")]
    [InlineData("since=-3")]
    [InlineData("since=1.5")]
    [InlineData("since=0&since=1")]
    public async Task WebSocket_InvalidSince_IsClosedWith4000(string since)
    {
        var (id, _) = await _server.RunJobAsync(ServerFixture.Synthetic(2), ["frame_quality"]);
        await using var client = await _server.ConnectAsync($"job_id={id}&{since}");

        Assert.Empty(await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(4000, (int)client.CloseStatus!);
        Assert.Contains("since", client.CloseDescription, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebSocket_SinceWithoutJobId_IsClosedWith4000()
    {
        await using var client = await _server.ConnectAsync("since=0");

        Assert.Empty(await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(4000, (int)client.CloseStatus!);
    }

    [Fact]
    public async Task Sse_InvalidSince_Is400ProblemWithTheField()
    {
        var (id, _) = await _server.RunJobAsync(ServerFixture.Synthetic(2), ["frame_quality"]);
        await using var client = await _server.ConnectSseAsync($"job_id={id}", lastEventId: "nope");

        Assert.Equal(HttpStatusCode.BadRequest, client.Response.StatusCode);
        using var problem = JsonDocument.Parse(await client.ReadToEndAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("since", out _));
    }

    [Fact]
    public async Task Sse_LastEventIdOnAStreamOfEveryJob_IsIgnored()
    {
        await using var client = await _server.ConnectSseAsync(lastEventId: "12");

        Assert.Equal(HttpStatusCode.OK, client.Response.StatusCode);
        Assert.Equal("ping", (await client.ReceiveWelcomeAsync())[^1].Type);
    }

    [Fact]
    public async Task WithoutSince_RunningJob_SnapshotIsTheLastPublishedProgressWithItsSeq()
    {
        var id = await _server.SubmitJobAsync(ServerFixture.Synthetic(200, fps: 50, width: 64, height: 64), ["frame_quality"]);
        await _server.WaitForStatusAsync(id, TimeSpan.FromSeconds(15), "running");
        await ServerFixture.WaitUntilAsync(
            async () => (await _server.GetJsonAsync($"/v1/jobs/{id}/extended")).GetProperty("progress") is { ValueKind: JsonValueKind.Number } p && p.GetInt32() > 0,
            TimeSpan.FromSeconds(15), "the job published no progress past 0");

        var (client, welcome) = await _server.ConnectWelcomedAsync($"job_id={id}");
        await using var owned = client;
        var snapshot = await client.ReceiveAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("progress", snapshot!.Type);
        Assert.NotNull(snapshot.Seq);
        var next = await client.ReceiveAsync(TimeSpan.FromSeconds(5));
        Assert.True(next!.Seq > snapshot.Seq, $"live after the snapshot: {snapshot.Raw} then {next.Raw}");
        await _server.Http.PostAsync($"/v1/jobs/{id}/cancel", null);
    }

    private static void AssertWholeJob(Guid id, List<ReceivedMessage> received)
    {
        Assert.Equal(Enumerable.Range(1, received.Count).Select(i => (long?)i), received.Select(m => m.Seq));
        Assert.True(received[^1].IsEndOf(id), received[^1].Raw);
        Assert.Equal(0, received[0].Payload.GetProperty("progress").GetInt32());
    }

    /// <summary>Every message of a job through <c>GET /v1/jobs/{id}/events</c>, page by page until <c>finished</c>.</summary>
    private Task<List<string>> AllEventsAsync(Guid id) => AllEventsAsync(_server, id);

    private static async Task<List<string>> AllEventsAsync(ServerFixture server, Guid id)
    {
        var all = new List<string>();
        long since = 0;
        while (true)
        {
            var page = await server.GetJsonAsync($"/v1/jobs/{id}/events?since={since}&limit=1000");
            all.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetRawText()));
            since = page.GetProperty("next_since").GetInt64();
            if (page.GetProperty("finished").GetBoolean())
            {
                return all;
            }
        }
    }

    private static async Task<Socket> ConnectRawAsync(Uri server, string path)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024 };
        await socket.ConnectAsync(server.Host, server.Port);
        var handshake = $"GET {path} HTTP/1.1\r\nHost: {server.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(handshake));
        var one = new byte[1];
        var head = new StringBuilder();
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            Assert.Equal(1, await socket.ReceiveAsync(one));
            head.Append((char)one[0]);
        }

        Assert.StartsWith("HTTP/1.1 101", head.ToString(), StringComparison.Ordinal);
        return socket;
    }
}
