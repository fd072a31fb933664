using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using CleanRealtime.Application.Jobs.PurgeJobs;
using CleanRealtime.IntegrationTests.Infrastructure;
using CleanRealtime.IntegrationTests.Reliability;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.IntegrationTests.Security;

/// <summary>
/// Finding 1 of the black-box probe: a job's GET used to load and serialize every frame at once (72.8 MB per call for
/// 100,000 frames; 16 parallel calls took the process to 9.1 GB). Measured on the real server process.
/// </summary>
public sealed class BoundedMemoryTests : IAsyncLifetime
{
    private const int Frames = 100_000;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task GetJob_ParallelGetsOfA100000FrameJob_KeepServerMemoryBounded()
    {
        // Eight at once from one client: above the default share of expensive reads (ExpensiveReadsTests proves that
        // limit); what is measured here is the memory one read holds while it streams.
        await using var server = await ServerProcess.StartAsync(_root, "--Reads:MaxConcurrent=8", "--Reads:MaxConcurrentPerClient=8");
        var job = await SeedFinishedJobAsync(Path.Combine(_root, "jobs.db"), Frames);

        // One full read first: every frame is there, in order, in the frozen five-field shape.
        await using (var body = await server.Http.GetStreamAsync($"/v1/jobs/{job}"))
        {
            using var legacy = await JsonDocument.ParseAsync(body);
            Assert.Equal(["job_id", "device_requested", "device_used", "fallback", "frames"], legacy.RootElement.EnumerateObject().Select(p => p.Name));
            var frames = legacy.RootElement.GetProperty("frames");
            Assert.Equal(Frames, frames.GetArrayLength());
            Assert.Equal(Frames, frames[Frames - 1].GetProperty("index").GetInt32());
        }

        var before = server.Memory().Resident;
        var reads = Enumerable.Range(0, 8).Select(async i =>
        {
            var path = i % 2 == 0 ? $"/v1/jobs/{job}" : $"/v1/jobs/{job}/extended";
            await using var body = await server.Http.GetStreamAsync(path);
            var counter = new CountingStream();
            await body.CopyToAsync(counter);
            return counter.Length;
        });
        var lengths = await Task.WhenAll(reads);
        var peak = server.Memory().Peak;

        // ~14 MB answered per call, 8 at once; the server held a page of frames per call, not the job.
        Assert.All(lengths, length => Assert.True(length > 10_000_000, $"a response was only {length} bytes"));
        Assert.True(peak - before < 200L * 1024 * 1024, $"peak resident memory grew by {(peak - before) / 1024 / 1024} MB during 8 parallel GETs");
    }

    /// <summary>Writes a finished job with <paramref name="frames"/> frame rows straight into the server's database.</summary>
    internal static async Task<Guid> SeedFinishedJobAsync(string database, int frames, string source = "synthetic:pitch?frames=100000&width=64&height=64")
    {
        var id = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        await using var connection = new SqliteConnection($"Data Source={database};Default Timeout=30");
        await connection.OpenAsync();
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        await using (var insertJob = connection.CreateCommand())
        {
            insertJob.CommandText =
                """
                INSERT INTO jobs (Id, Source, DeviceRequested, DeviceUsed, PluginsJson, Status, Progress, Error, CreatedAtTicks, StartedAt,
                                  CompletedAt, CompletedAtTicks, PluginTimingsJson, WarningsJson)
                VALUES ($id, $source, 'cpu', 'cpu', '["frame_quality"]', 'completed', 100, NULL,
                        $ticks, $now, $now, $ticks, '{"frame_quality":4321.5}', '[]')
                """;
            insertJob.Parameters.AddWithValue("$id", id.ToString("D"));
            insertJob.Parameters.AddWithValue("$source", source);
            insertJob.Parameters.AddWithValue("$ticks", now.UtcTicks);
            insertJob.Parameters.AddWithValue("$now", now.ToString("yyyy-MM-dd HH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture));
            await insertJob.ExecuteNonQueryAsync();
        }

        await using var insertFrame = connection.CreateCommand();
        insertFrame.CommandText = "INSERT INTO job_frames (JobId, \"Index\", FrameId, TimestampMs, ResultsJson) VALUES ($job, $index, $frame, $ms, $results)";
        var job = insertFrame.Parameters.Add("$job", SqliteType.Text);
        var index = insertFrame.Parameters.Add("$index", SqliteType.Integer);
        var frame = insertFrame.Parameters.Add("$frame", SqliteType.Text);
        var ms = insertFrame.Parameters.Add("$ms", SqliteType.Real);
        var results = insertFrame.Parameters.Add("$results", SqliteType.Text);
        job.Value = id.ToString("D");
        for (var i = 1; i <= frames; i++)
        {
            index.Value = i;
            frame.Value = $"frame-{i:D6}";
            ms.Value = i * 33.3;
            results.Value = "{\"frame_quality\":{\"sharpness\":" + (i % 997).ToString(CultureInfo.InvariantCulture)
                            + ".25,\"mean_luminance\":101.5,\"clipped_dark\":0,\"clipped_bright\":0.01,\"blurry\":false}}";
            await insertFrame.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return id;
    }

    private sealed class CountingStream : Stream
    {
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _length += buffer.Length;
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>§2.6: a job's frames a page at a time, and the bad input of that endpoint.</summary>
public sealed class FramePagesTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Frames_PagedThroughTheWholeJob_MatchTheLegacyFramesInOrder()
    {
        var (job, _) = await server.RunJobAsync(ServerFixture.Synthetic(7, width: 64, height: 64), ["frame_quality"]);
        var legacy = await server.GetJsonAsync($"/v1/jobs/{job}");

        var paged = new List<JsonElement>();
        int? offset = 0;
        var pages = 0;
        while (offset is { } next)
        {
            var page = await server.GetJsonAsync($"/v1/jobs/{job}/frames?offset={next}&limit=3");
            Assert.Equal(7, page.GetProperty("total").GetInt32());
            paged.AddRange(page.GetProperty("items").EnumerateArray());
            offset = page.GetProperty("next_offset").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next_offset").GetInt32();
            pages++;
        }

        Assert.Equal(3, pages);
        Assert.Equal(legacy.GetProperty("frames").EnumerateArray().Select(f => f.GetRawText()), paged.Select(f => f.GetRawText()));
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("offset=-1", "offset")]
    [InlineData("offset=1&offset=2", "offset")]
    public async Task Frames_BadQuery_Is400NamingTheParameter(string query, string field)
    {
        var (job, _) = await server.RunJobAsync(ServerFixture.Synthetic(1, width: 64, height: 64), ["frame_quality"]);

        using var response = await server.Http.GetAsync($"/v1/jobs/{job}/frames?{query}");

        var problem = await Api.JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Frames_UnknownJob_Is404Problem()
    {
        using var response = await server.Http.GetAsync($"/v1/jobs/{Guid.NewGuid()}/frames");

        await Api.JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.NotFound);
    }
}

/// <summary>Findings 4 and 5: who a client is for the limits, and the caps that keep one client from taking everything.</summary>
public sealed class FairShareTests
{
    private static readonly object QuickJob = new { source = ServerFixture.Synthetic(1, width: 64, height: 64), plugins = new[] { "frame_quality" } };

    [Fact]
    public async Task CreateJob_RandomUnverifiedKeyPerRequest_IsStillRateLimitedByAddress()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["RateLimits:CreateJobPerMinute"] = "3" });

        var codes = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs")
            {
                Headers = { { "X-API-Key", Guid.NewGuid().ToString() } }, Content = JsonContent.Create(QuickJob),
            };
            using var response = await server.Http.SendAsync(request);
            codes.Add(response.StatusCode);
        }

        Assert.Equal(3, codes.Count(c => c == HttpStatusCode.Accepted));
        Assert.Equal(3, codes.Count(c => c == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task CreateJob_BeyondTheQueuedCap_Is429WithRetryAfterAndProblemType()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Jobs:MaxConcurrentJobs"] = "1", ["Jobs:MaxQueuedJobs"] = "2",
        });

        // One long paced job holds the only worker, so the next ones stay queued.
        var running = await server.SubmitJobAsync(ServerFixture.Synthetic(600, fps: 10, width: 64, height: 64), ["frame_quality"]);
        await server.WaitForStatusAsync(running, TimeSpan.FromSeconds(30), "running");
        await server.SubmitJobAsync(ServerFixture.Synthetic(1, width: 64, height: 64), ["frame_quality"]);
        await server.SubmitJobAsync(ServerFixture.Synthetic(1, width: 64, height: 64), ["frame_quality"]);

        using var refused = await server.Http.PostAsJsonAsync("/v1/jobs", QuickJob);

        var problem = await Api.JobInputValidationTests.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests);
        Assert.Equal("https://tools.ietf.org/html/rfc6585#section-4", problem.GetProperty("type").GetString());
        Assert.Contains("2 jobs waiting", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter?.Delta);
        using var cancel = await server.Http.PostAsync($"/v1/jobs/{running}/cancel", null);
    }

    [Fact]
    public async Task CreateJob_BeyondTheQueuedCapPerClient_RefusesThatKeyOnly()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Jobs:MaxConcurrentJobs"] = "1", ["Jobs:MaxQueuedJobsPerClient"] = "1", ["Auth:ApiKeys"] = "key-a,key-b",
        });

        async Task<HttpResponseMessage> SubmitAsync(string key, string source)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs")
            {
                Headers = { { "X-API-Key", key } },
                Content = JsonContent.Create(new { source, plugins = new[] { "frame_quality" } }),
            };
            return await server.Http.SendAsync(request);
        }

        using var holding = await SubmitAsync("key-b", ServerFixture.Synthetic(600, fps: 10, width: 64, height: 64));
        Assert.Equal(HttpStatusCode.Accepted, holding.StatusCode);
        await ServerFixture.WaitUntilAsync(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, holding.Headers.Location + "/extended") { Headers = { { "X-API-Key", "key-b" } } };
                using var response = await server.Http.SendAsync(request);
                return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString() == "running";
            },
            TimeSpan.FromSeconds(30),
            "the long job never started");

        using var first = await SubmitAsync("key-a", ServerFixture.Synthetic(1, width: 64, height: 64));
        using var second = await SubmitAsync("key-a", ServerFixture.Synthetic(1, width: 64, height: 64));
        using var other = await SubmitAsync("key-b", ServerFixture.Synthetic(1, width: 64, height: 64));

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.NotNull(second.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
    }

    [Fact]
    public async Task Realtime_BeyondTheConnectionsPerClient_Is4001WhateverTheSessionAnd429ProblemOverSse()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Realtime:MaxConnectionsPerClient"] = "2" });
        var (a, _) = await server.ConnectWelcomedAsync($"session_id={Guid.NewGuid()}");
        var (b, _) = await server.ConnectWelcomedAsync();
        await using var first = a;
        await using var second = b;

        await using var third = await server.ConnectAsync($"session_id={Guid.NewGuid()}");
        await third.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(4001, (int?)third.CloseStatus);
        Assert.Contains("a client may open 2", third.CloseDescription, StringComparison.Ordinal);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/realtime") { Headers = { { "Accept", "text/event-stream" } } };
        using var sse = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var problem = await Api.JobInputValidationTests.AssertProblemAsync(sse, HttpStatusCode.TooManyRequests);
        Assert.Equal("https://tools.ietf.org/html/rfc6585#section-4", problem.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("Jobs:MaxFrames", "5", "Jobs:MaxFrames")]
    [InlineData("Jobs:MaxPixelsPerFrame", "4000", "Jobs:MaxPixelsPerFrame")]
    [InlineData("Jobs:MaxDuration", "00:00:00.300", "Jobs:MaxDuration")]
    public async Task RunJob_OverItsBudget_FailsWithBudgetExceeded(string key, string value, string named)
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?> { [key] = value });
        // Welcomed = registered: it cannot miss the job's first messages.
        var (watcher, _) = await server.ConnectWelcomedAsync();
        await using var watching = watcher;

        // 64x64 = 4096 pixels; 50 frames at 20 fps take 2.5 s.
        var (job, state) = await server.RunJobAsync(ServerFixture.Synthetic(50, fps: 20, width: 64, height: 64), ["frame_quality"]);

        Assert.Equal("failed", state.GetProperty("status").GetString());
        var error = state.GetProperty("error").GetString();
        Assert.StartsWith("BUDGET_EXCEEDED: ", error, StringComparison.Ordinal);
        Assert.Contains(named, error, StringComparison.Ordinal);
        var messages = await watcher.ReceiveJobAsync(job);
        var reported = Assert.Single(messages, m => m.Type == "error");
        Assert.Equal("BUDGET_EXCEEDED", reported.Payload.GetProperty("details").GetProperty("error_code").GetString());
    }
}

/// <summary>Finished jobs are deleted <c>Jobs:Retention</c> after they ended, in the background, on the injected clock.</summary>
public sealed class RetentionTests
{
    [Fact]
    public async Task FinishedJob_OlderThanRetention_IsDeletedByTheBackgroundPurge()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var rounds = new PurgeRounds();
        await using var server = await ServerFixture.StartAsync(
            new Dictionary<string, string?> { ["Jobs:Retention"] = "00:30:00" },
            services => services
                .AddSingleton<TimeProvider>(clock)
                .AddSingleton(rounds)
                .AddTransient<MediatR.IPipelineBehavior<PurgeExpiredJobs, int>, CountingPurges>());
        var (job, state) = await server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);
        Assert.Equal("completed", state.GetProperty("status").GetString());

        // Two purge rounds (10 min apart) within the retention, each waited for (the one at start ran before the job
        // ended): the job is kept.
        await ServerFixture.WaitUntilAsync(() => Task.FromResult(rounds.Count >= 1), TimeSpan.FromSeconds(5), "the purge at start did not run");
        for (var round = 2; round <= 3; round++)
        {
            clock.Advance(TimeSpan.FromMinutes(10));
            var expected = round;
            await ServerFixture.WaitUntilAsync(
                () => Task.FromResult(rounds.Count >= expected), TimeSpan.FromSeconds(5), $"purge round {round} did not run");
        }

        Assert.Equal(3, rounds.Count);
        using (var kept = await server.Http.GetAsync($"/v1/jobs/{job}"))
        {
            Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        }

        clock.Advance(TimeSpan.FromMinutes(20));
        await ServerFixture.WaitUntilAsync(
            async () =>
            {
                using var gone = await server.Http.GetAsync($"/v1/jobs/{job}");
                return gone.StatusCode == HttpStatusCode.NotFound;
            },
            TimeSpan.FromSeconds(5),
            "the expired job was not deleted");
        using var frames = await server.Http.GetAsync($"/v1/jobs/{job}/frames");
        Assert.Equal(HttpStatusCode.NotFound, frames.StatusCode);
    }

    /// <summary>How many purge rounds have finished, so the test waits for a round instead of sleeping.</summary>
    private sealed class PurgeRounds
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Finished() => Interlocked.Increment(ref _count);
    }

    private sealed class CountingPurges(PurgeRounds rounds) : MediatR.IPipelineBehavior<PurgeExpiredJobs, int>
    {
        public async Task<int> Handle(PurgeExpiredJobs request, CancellationToken cancellationToken, MediatR.RequestHandlerDelegate<int> next)
        {
            ArgumentNullException.ThrowIfNull(next);
            try
            {
                return await next();
            }
            finally
            {
                rounds.Finished();
            }
        }
    }
}

/// <summary>Findings 6 and 7: what the server tells about itself and others, and the smaller protocol gaps.</summary>
public sealed class LeakAndProtocolTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Stats_ListsNoSessionIdsAndIsPaged()
    {
        var sessions = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToList();
        var clients = await Task.WhenAll(sessions.Select(s => server.ConnectWelcomedAsync($"session_id={s}")));
        try
        {
            using var response = await server.Http.GetAsync("/v1/realtime/stats?limit=2");
            var body = await response.Content.ReadAsStringAsync();

            Assert.All(sessions, s => Assert.DoesNotContain(s.ToString(), body, StringComparison.OrdinalIgnoreCase));
            Assert.DoesNotContain("session_id", body, StringComparison.Ordinal);
            var stats = JsonDocument.Parse(body).RootElement;
            Assert.Equal(2, stats.GetProperty("connections").GetArrayLength());
            Assert.True(stats.GetProperty("open").GetInt32() >= 3);
            var next = stats.GetProperty("next_offset").GetInt32();
            var rest = await server.GetJsonAsync($"/v1/realtime/stats?limit=1000&offset={next}");
            Assert.Equal(stats.GetProperty("open").GetInt32() - 2, rest.GetProperty("connections").GetArrayLength());
            Assert.Equal(JsonValueKind.Null, rest.GetProperty("next_offset").ValueKind);
        }
        finally
        {
            foreach (var (client, _) in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData("/v1/jobs?limit=abc", "limit")]
    [InlineData("/v1/jobs?limit=1&limit=2", "limit")]
    [InlineData("/v1/jobs?status=queued&status=failed", "status")]
    [InlineData("/v1/realtime/stats?limit=abc", "limit")]
    [InlineData("/v1/realtime/stats?session_id=nope", "session_id")]
    public async Task Query_NotANumberOrRepeated_Is400WithErrorsNamingTheParameter(string path, string field)
    {
        using var response = await server.Http.GetAsync(path);

        var problem = await Api.JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Theory]
    [InlineData("""{"source":"synthetic:pitch","plugins":"frame_quality"}""", "plugins")]
    [InlineData("""{"source":42,"plugins":["frame_quality"]}""", "source")]
    [InlineData("""[1,2,3]""", "body")]
    [InlineData("""{"source":"synthetic:pitch","plugins":{"a":1}}""", "plugins")]
    public async Task CreateJob_WrongJsonTypes_NameTheFieldNeverADotNetType(string json, string field)
    {
        using var response = await server.Http.PostAsync("/v1/jobs", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty(field, out _), body);
        Assert.DoesNotContain("System.", body, StringComparison.Ordinal);
        Assert.DoesNotContain("CleanRealtime", body, StringComparison.Ordinal);
        Assert.DoesNotContain("`1", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateJob_HugeUnknownPluginName_IsQuotedAsAShortPrefix()
    {
        var huge = new string('x', 900_000);
        using var response = await server.Http.PostAsJsonAsync("/v1/jobs", new { source = ServerFixture.Synthetic(1), plugins = new[] { huge } });
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(body.Length < 2_000, $"the problem body is {body.Length} characters");
        Assert.Contains("(900000 characters)", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateJob_NulInSyntheticSource_Is400()
    {
        using var response = await server.Http.PostAsJsonAsync(
            "/v1/jobs", new { source = "synthetic:pitch?frames=1\u0000", plugins = new[] { "frame_quality" } });

        var problem = await Api.JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("source", out _), problem.ToString());
    }

    [Theory]
    [InlineData("/v1/jobs")]
    [InlineData("/v1/devices")]
    [InlineData("/v1/plugins")]
    [InlineData("/v1/realtime/stats")]
    public async Task Head_OnAReadEndpoint_AnswersLikeGetWithoutABody(string path)
    {
        using var head = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
        using var get = await server.Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(get.Content.Headers.ContentType?.MediaType, head.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Head_OnAJob_AnswersLikeGet()
    {
        var (job, _) = await server.RunJobAsync(ServerFixture.Synthetic(1, width: 64, height: 64), ["frame_quality"]);

        using var found = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v1/jobs/{job}/extended"));
        using var missing = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v1/jobs/{Guid.NewGuid()}"));

        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Empty(await found.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task OpenApi_DoesNotEchoTheRequestHost()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/openapi/v1.json") { Headers = { Host = "attacker.example" } };
        using var response = await server.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("attacker.example", body, StringComparison.Ordinal);
        Assert.Contains("/v1/jobs/{jobId}/frames", body, StringComparison.Ordinal);
    }
}

/// <summary>Finding 6: an API key sent in the query (browsers must, for WebSocket and EventSource) never reaches the logs.</summary>
public sealed class ApiKeyLoggingTests
{
    [Fact]
    public async Task RequestLog_WithApiKeyInTheQuery_RedactsIt()
    {
        const string Key = "very-secret-key-1234";
        var logs = new ListLoggerProvider();
        await using var server = await ServerFixture.StartAsync(
            new Dictionary<string, string?> { ["Auth:ApiKeys"] = Key, ["Logging:LogLevel:Default"] = "Information", ["Logging:LogLevel:Microsoft.AspNetCore"] = "Information" },
            services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));

        using (var socket = new ClientWebSocket())
        {
            await socket.ConnectAsync(server.RealtimeUri($"api_key={Key}&session_id={Guid.NewGuid()}"), CancellationToken.None);
            await using var client = new RealtimeClient(socket);
            await client.ReceiveWelcomeAsync();
        }

        using var sse = await server.Http.GetAsync($"/v1/realtime/stats?api_key={Key}");
        await ServerFixture.WaitUntilAsync(
            () => Task.FromResult(logs.Lines.Any(l => l.Contains("api_key=***", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(5),
            "no request line with the redacted key was logged");
        Assert.DoesNotContain(logs.Lines, l => l.Contains(Key, StringComparison.Ordinal));
    }
}

/// <summary>Keeps every formatted log line written through it.</summary>
internal sealed class ListLoggerProvider : Microsoft.Extensions.Logging.ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, System.Collections.Concurrent.ConcurrentQueue<string> lines) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(
            Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{category}: {formatter(state, exception)}");
    }
}
