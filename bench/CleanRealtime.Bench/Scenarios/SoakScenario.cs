using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using CleanRealtime.Bench.Driver;
using CleanRealtime.Bench.Reporting;

namespace CleanRealtime.Bench.Scenarios;

/// <summary>One job message as a subscriber or the log saw it: what must be the same everywhere for one seq.</summary>
internal readonly record struct SeenMessage(long Seq, string Type, string Timestamp);

/// <summary>One RSS sample of the soak: minutes since the measured run started, resident set in MB.</summary>
internal sealed record RssSample(double Minutes, double Megabytes);

/// <summary>
/// Soak (issue 16, not run by CI): a real server on a database that starts with one ended job of
/// <see cref="BenchOptions.SoakSeedFrames"/> frames (run for real, to completion, on a first server, which is then stopped;
/// the soak server is started on the same SQLite file), with <c>Realtime:ReplayPurgeInterval</c> 1 min and
/// <c>Realtime:ReplayRetention</c> 2 min, so that purges delete during the run (the seed job's ~110,000 messages first).
/// For <see cref="BenchOptions.SoakDuration"/>: lanes submitting a steady stream of small jobs (paced, unpaced, some
/// cancelled mid-way, some on an uploaded picture), an upload churn (POST and DELETE /v1/media), and
/// <see cref="BenchOptions.SoakSubscribers"/> WebSocket subscribers spread over the lanes' jobs, each following its job
/// with <c>since=0</c> (some drop the connection mid-job and resume with <c>since</c> = the last seq they saw). Every
/// subscriber must see seq 1..N once, in order, ending with the job's end; at each job's end its log
/// (<c>GET /v1/jobs/{id}/events</c>, paged) must hold 1..N and the same message (type, timestamp) for every seq. Server
/// errors counted: HTTP 5xx, requests without an answer in 30 s, unexpected WebSocket closes, <c>fail:</c>/<c>crit:</c>
/// lines in the server's log, the server exiting. RSS (<c>/proc/&lt;pid&gt;/status</c>) is sampled every 10 s; its
/// least-squares slope after the first 20 % of the run is reported. Any error or incomplete seq fails the run.
/// </summary>
internal sealed partial class SoakScenario(BenchOptions options, Report report)
{
    private const int Lanes = 3;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RssInterval = TimeSpan.FromSeconds(10);
    private static readonly string[] Plugins = ["frame_quality"];

    private readonly ConcurrentQueue<string> _errors = new();
    private readonly ConcurrentQueue<string> _seqErrors = new();
    private readonly List<RssSample> _rss = [];
    private long _serverErrors;
    private long _seqFailures;
    private long _http5xx;
    private long _hangs;
    private long _badCloses;
    private long _errorLogLines;
    private long _delivered;
    private long _jobsRun;
    private long _jobsCancelled;
    private long _jobsOnUploads;
    private long _subscriberStreams;
    private long _completeStreams;
    private long _resumes;
    private long _logsChecked;
    private long _logsComplete;
    private long _uploads;
    private long _deletes;
    private long _deletesRetried;
    private long _unexpected;
    private long _purges;
    private long _purgedMessages;
    private long _requests;
    private int _captureLines;

    private ServerProcess? _server;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("cleanrealtime-soak-");
        try
        {
            await RunInAsync(root.FullName, cancellationToken);
        }
        finally
        {
            try
            {
                root.Delete(recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.WriteLine($"  (could not delete {root.FullName}: {ex.Message})");
            }
        }
    }

    private ServeSettings Settings(string root) => new(options.MessageBytes, options.QueueCapacity, 1000)
    {
        Root = root,
        Product = new Dictionary<string, string>
        {
            ["Realtime:ReplayPurgeInterval"] = "00:01:00",
            ["Realtime:ReplayRetention"] = "00:02:00",

            // All the soak's clients share 127.0.0.1: its ~35 uploads a minute would be one client's share of 20.
            ["Media:MaxUploadsPerClientPerMinute"] = "0",

            // What the purge deleted (logged at Information); everything else stays at the bench's Warning.
            ["Logging:LogLevel:CleanRealtime.Application.Realtime.Events.ReplayRetention"] = "Information",
        },
    };

    private async Task RunInAsync(string root, CancellationToken cancellationToken)
    {
        var (seedJob, seedSeconds, seedLastSeq) = await SeedAsync(root, cancellationToken);

        await using var server = await ServerProcess.StartAsync("real", Settings(root), cancellationToken, onOutput: Observe);
        _server = server;
        Console.WriteLine($"  soak server pid {server.Pid} on {server.BaseAddress}, root {root}; {Fmt.N(options.SoakDuration.TotalMinutes, 1)} min");

        var clock = Stopwatch.StartNew();
        var deadline = options.SoakDuration;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampler = SampleRssAsync(clock, stop.Token);
        var progress = PrintProgressAsync(clock, stop.Token);
        var uploads = UploadChurnAsync(clock, deadline, cancellationToken);
        var lanes = Enumerable.Range(0, Lanes)
            .Select(lane => LaneAsync(lane, SubscribersOf(lane), clock, deadline, cancellationToken))
            .ToList();
        await Task.WhenAll([.. lanes, uploads]);
        var measured = clock.Elapsed;
        SampleRss(clock);
        await stop.CancelAsync();
        await Task.WhenAll(sampler, progress);

        // The seed job's messages are due 2 min after it ended; the purge runs every minute from the start.
        var seedPurged = seedJob is { } seed ? await SeedPurgedAsync(seed, cancellationToken) : null;
        if (server.HasExited)
        {
            ServerError("the server exited during the run");
        }

        Publish(measured, seedJob, seedSeconds, seedLastSeq, seedPurged);
        var failures = Interlocked.Read(ref _serverErrors) + Interlocked.Read(ref _seqFailures) + Interlocked.Read(ref _unexpected);
        if (failures > 0)
        {
            throw new InvalidOperationException(
                $"soak: {Interlocked.Read(ref _serverErrors)} server errors, {Interlocked.Read(ref _seqFailures)} incomplete or mismatched seq " +
                $"histories, {Interlocked.Read(ref _unexpected)} unexpected refusals");
        }
    }

    private int SubscribersOf(int lane) => (options.SoakSubscribers / Lanes) + (lane < options.SoakSubscribers % Lanes ? 1 : 0);

    /// <summary>A first server runs the seed job to its end and is stopped; its database is what the soak server starts on.</summary>
    private async Task<(Guid? Job, double Seconds, long LastSeq)> SeedAsync(string root, CancellationToken cancellationToken)
    {
        if (options.SoakSeedFrames == 0)
        {
            return (null, 0, 0);
        }

        await using var seeder = await ServerProcess.StartAsync("real", Settings(root), cancellationToken, onOutput: Observe);
        _server = seeder;
        var source = string.Create(CultureInfo.InvariantCulture, $"synthetic:pitch?frames={options.SoakSeedFrames}&width=64&height=64");
        Console.WriteLine($"  seeding: {source} ({string.Join(',', Plugins)}) on pid {seeder.Pid}");
        var started = Stopwatch.StartNew();
        var job = await seeder.SubmitJobAsync(source, Plugins, cancellationToken);
        while (true)
        {
            var status = await StatusAsync(seeder, job, cancellationToken);
            if (status is "completed")
            {
                break;
            }

            if (status is "failed" or "cancelled" || started.Elapsed > TimeSpan.FromMinutes(30))
            {
                throw new InvalidOperationException($"the seed job {job} ended {status ?? "unseen"} after {started.Elapsed.TotalSeconds:F0} s");
            }

            await Task.Delay(1000, cancellationToken);
        }

        var seconds = started.Elapsed.TotalSeconds;
        var log = await ReadLogAsync(seeder, job, cancellationToken);
        var lastSeq = log.Count == 0 ? 0 : log[^1].Seq;
        var complete = log.Count > 0 && log.Select((m, i) => m.Seq == i + 1).All(x => x);
        Interlocked.Increment(ref _logsChecked);
        if (complete)
        {
            Interlocked.Increment(ref _logsComplete);
        }
        else
        {
            SeqFailure($"the seed job {job}'s log is not 1..{lastSeq} gap-free ({log.Count} messages)");
        }

        Console.WriteLine($"  seeded job {job}: {Fmt.I(options.SoakSeedFrames)} frames, {Fmt.I(lastSeq)} messages in {Fmt.N(seconds, 1)} s; stopping the seeder");
        _server = null;
        return (job, seconds, lastSeq);
    }

    private async Task<string?> SeedPurgedAsync(Guid job, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, $"/v1/jobs/{job}/events?since=0&limit=10"), cancellationToken);
        if (response is null)
        {
            return null;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode == HttpStatusCode.Gone)
        {
            using var problem = JsonDocument.Parse(body);
            return problem.RootElement.TryGetProperty("first_seq", out var first) ? $"410, first_seq {first}" : "410";
        }

        return $"{(int)response.StatusCode}: not purged";
    }

    /// <summary>One lane: small jobs one after another, each followed by this lane's subscribers, checked against the log at its end.</summary>
    private async Task LaneAsync(int lane, int subscribers, Stopwatch clock, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var random = new Random((lane * 7919) + 17);
        for (var n = 0; clock.Elapsed < deadline; n++)
        {
            var roll = random.NextDouble();
            string? upload = null;
            string source;
            var cancelIt = false;
            double expectedSeconds;
            if (roll < 0.1 && await UploadAsync(random, cancellationToken) is { } name)
            {
                upload = name;
                source = name;
                expectedSeconds = 1;
                Interlocked.Increment(ref _jobsOnUploads);
            }
            else if (roll < 0.6)
            {
                var frames = random.Next(150, 601);
                var fps = random.Next(40, 101);
                source = string.Create(CultureInfo.InvariantCulture, $"synthetic:pitch?frames={frames}&width=64&height=64&fps={fps}");
                expectedSeconds = (double)frames / fps;
                cancelIt = random.NextDouble() < 0.3;
            }
            else
            {
                // At most ~900 messages: a subscriber's queue (1000, the product default) never has to drop one.
                var frames = random.Next(200, 801);
                source = string.Create(CultureInfo.InvariantCulture, $"synthetic:pitch?frames={frames}&width={(random.Next(2) == 0 ? 64 : 96)}&height=64");
                expectedSeconds = 5;
            }

            Guid job;
            try
            {
                job = await SubmitAsync(source, cancellationToken);
            }
            catch (InvalidOperationException ex)
            {
                Unexpected($"lane {lane}: {ex.Message}");
                await Task.Delay(1000, cancellationToken);
                continue;
            }

            var limit = TimeSpan.FromSeconds((expectedSeconds * 3) + 120);
            var headSeq = 0L;
            var followers = Enumerable.Range(0, subscribers)
                .Select(i => FollowAsync(job, random.Next(), i % 5 == 0 && upload is null, seq => InterlockedMax(ref headSeq, seq), limit, cancellationToken))
                .ToList();
            if (cancelIt)
            {
                await CancelMidwayAsync(job, random.Next(500, 2500), () => Volatile.Read(ref headSeq), limit, cancellationToken);
            }

            var streams = await Task.WhenAll(followers);
            await CheckJobAsync(job, streams, cancellationToken);
            Interlocked.Increment(ref _jobsRun);
            if (upload is not null)
            {
                await DeleteUploadAsync(upload, cancellationToken);
            }
        }
    }

    /// <summary>Cancels a running job once it has published a few messages, after <paramref name="delayMs"/>.</summary>
    private async Task CancelMidwayAsync(Guid job, int delayMs, Func<long> head, TimeSpan limit, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (head() < 5 && waited.Elapsed < limit)
        {
            await Task.Delay(50, cancellationToken);
        }

        await Task.Delay(delayMs, cancellationToken);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"/v1/jobs/{job}/cancel"), cancellationToken);
        if (response is { StatusCode: HttpStatusCode.Accepted })
        {
            Interlocked.Increment(ref _jobsCancelled);
        }
        else if (response is { StatusCode: not HttpStatusCode.Conflict and var status } && (int)status < 500)
        {
            Unexpected($"cancel of {job} answered {(int)status}");
        }
    }

    /// <summary>
    /// One subscriber of one job: <c>since=0</c>, every job message checked to be the next seq; when
    /// <paramref name="resume"/>, drops the connection once mid-job (abort or close) and resumes with <c>since</c> = the
    /// last seq seen. Ends at the job's end message (progress 100, stage completed/failed/cancelled); closes normally.
    /// </summary>
    private async Task<List<SeenMessage>?> FollowAsync(Guid job, int seed, bool resume, Action<long> onSeq, TimeSpan limit, CancellationToken cancellationToken)
    {
        var random = new Random(seed);
        var seen = new List<SeenMessage>();
        var dropAfter = resume ? random.Next(10, 200) : int.MaxValue;
        var abort = random.Next(2) == 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        Interlocked.Increment(ref _subscriberStreams);
        var ok = true;
        try
        {
            while (true)
            {
                var since = seen.Count == 0 ? 0 : seen[^1].Seq;
                var (ended, dropped) = await FollowOnceAsync(job, since, seen, dropAfter, abort, onSeq, deadline.Token);
                if (ended)
                {
                    break;
                }

                if (!dropped)
                {
                    ok = false;
                    break;
                }

                Interlocked.Increment(ref _resumes);
                dropAfter = int.MaxValue;
                await Task.Delay(random.Next(0, 500), deadline.Token);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            SeqFailure($"job {job}: a subscriber saw no end within {limit.TotalSeconds:F0} s (last seq {(seen.Count == 0 ? 0 : seen[^1].Seq)})");
            return null;
        }
        catch (WebSocketException ex)
        {
            BadClose($"job {job}: subscriber connection broke at seq {(seen.Count == 0 ? 0 : seen[^1].Seq)}: {ex.Message}");
            return null;
        }

        return ok ? seen : null;
    }

    /// <summary>One connection; answers (the end was seen, the connection was dropped on purpose to resume).</summary>
    private async Task<(bool Ended, bool Dropped)> FollowOnceAsync(
        Guid job, long since, List<SeenMessage> seen, int dropAfter, bool abort, Action<long> onSeq, CancellationToken cancellationToken)
    {
        var uri = new UriBuilder(_server!.RealtimeUri)
        {
            Query = string.Create(CultureInfo.InvariantCulture, $"job_id={job}&since={since}"),
        }.Uri;
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(uri, cancellationToken);
        var buffer = new byte[1 << 14];
        var length = 0;
        var onThisConnection = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                BadClose($"job {job}: the server closed a subscriber before the end ({(int?)socket.CloseStatus} {socket.CloseStatusDescription}) at seq {(seen.Count == 0 ? 0 : seen[^1].Seq)}");
                return (false, false);
            }

            length += result.Count;
            if (!result.EndOfMessage)
            {
                if (length == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                continue;
            }

            var message = Parse(buffer.AsSpan(0, length), out var end, out var failed, out var code);
            length = 0;
            if (code is not null)
            {
                SeqFailure($"job {job}: a subscriber (since={since}) got an error {code}");
            }

            if (message is not { } m)
            {
                continue;
            }

            var expected = seen.Count == 0 ? 1 : seen[^1].Seq + 1;
            if (m.Seq != expected)
            {
                SeqFailure($"job {job}: a subscriber (since={since}) got seq {m.Seq} after {expected - 1}");
                socket.Abort();
                return (false, false);
            }

            seen.Add(m);
            onSeq(m.Seq);
            Interlocked.Increment(ref _delivered);
            onThisConnection++;
            if (end)
            {
                if (failed)
                {
                    // Nothing in a synthetic job or a decodable upload can fail: the server did.
                    ServerError($"job {job} ended failed (seen by a subscriber at seq {m.Seq})");
                }

                await CloseAsync(socket, job);
                return (true, false);
            }

            if (onThisConnection >= dropAfter)
            {
                if (abort)
                {
                    socket.Abort();
                }
                else
                {
                    await CloseAsync(socket, job);
                }

                return (false, true);
            }
        }
    }

    private async Task CloseAsync(ClientWebSocket socket, Guid job)
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", grace.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            BadClose($"job {job}: the close handshake failed: {ex.Message}");
        }
    }

    /// <summary>A job message (type, seq, timestamp), whether it is the job's end, and any error code it carries.</summary>
    private static SeenMessage? Parse(ReadOnlySpan<byte> utf8, out bool end, out bool failed, out string? errorCode)
    {
        using var document = JsonDocument.Parse(utf8.ToArray());
        return Read(document.RootElement, out end, out failed, out errorCode);
    }

    private static SeenMessage? Read(JsonElement root, out bool end, out bool failed, out string? errorCode)
    {
        end = false;
        failed = false;
        errorCode = null;
        var type = root.GetProperty("type").GetString()!;
        var payload = root.GetProperty("payload");
        if (type == "error" && payload.TryGetProperty("details", out var details) && details.TryGetProperty("error_code", out var c))
        {
            errorCode = c.GetString();
        }

        if (!root.TryGetProperty("seq", out var seq))
        {
            return null;
        }

        var stage = type == "progress" && payload.TryGetProperty("stage", out var s) ? s.GetString() : null;
        end = stage is "completed" or "failed" or "cancelled";
        failed = stage is "failed";
        return new SeenMessage(seq.GetInt64(), type, root.GetProperty("timestamp").GetString()!);
    }

    /// <summary>At a job's end: its log holds 1..N ending with the end, and every subscriber saw exactly that.</summary>
    private async Task CheckJobAsync(Guid job, List<SeenMessage>?[] streams, CancellationToken cancellationToken)
    {
        List<SeenMessage> log;
        try
        {
            log = await ReadLogAsync(_server!, job, cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            SeqFailure(ex.Message);
            return;
        }

        Interlocked.Increment(ref _logsChecked);
        var logOk = log.Count > 0 && log.Select((m, i) => m.Seq == i + 1).All(x => x);
        if (logOk)
        {
            Interlocked.Increment(ref _logsComplete);
        }
        else
        {
            SeqFailure($"job {job}: its log is not 1..N gap-free ({log.Count} messages, last {(log.Count == 0 ? 0 : log[^1].Seq)})");
        }

        foreach (var stream in streams)
        {
            if (stream is null)
            {
                continue;
            }

            if (stream.Count == log.Count && stream.SequenceEqual(log))
            {
                Interlocked.Increment(ref _completeStreams);
                continue;
            }

            var first = stream.Zip(log).Select((p, i) => (p, i)).FirstOrDefault(x => x.p.First != x.p.Second);
            SeqFailure($"job {job}: a subscriber saw {stream.Count} messages, the log holds {log.Count}" +
                       (first.p.First.Type is null ? "" : $"; first difference at seq {first.p.Second.Seq}: {first.p.First} vs {first.p.Second}"));
        }

        if (log.Count > 0 && log[^1].Type != "progress")
        {
            SeqFailure($"job {job}: its log ends with a {log[^1].Type}, not the end");
        }
    }

    /// <summary>The whole log of an ended job through <c>GET /v1/jobs/{id}/events</c>, pages of 1000, until <c>finished</c>.</summary>
    private async Task<List<SeenMessage>> ReadLogAsync(ServerProcess server, Guid job, CancellationToken cancellationToken)
    {
        var messages = new List<SeenMessage>();
        long since = 0;
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var path = string.Create(CultureInfo.InvariantCulture, $"/v1/jobs/{job}/events?since={since}&limit=1000");
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, path), cancellationToken, server)
                                 ?? throw new InvalidOperationException($"job {job}: GET {path} had no answer");
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"job {job}: GET {path} answered {(int)response.StatusCode}: {body}");
            }

            using var page = JsonDocument.Parse(body);
            var items = page.RootElement.GetProperty("items");
            foreach (var item in items.EnumerateArray())
            {
                if (Read(item, out _, out _, out _) is { } m)
                {
                    messages.Add(m);
                    since = m.Seq;
                }
            }

            if (page.RootElement.GetProperty("finished").GetBoolean())
            {
                return messages;
            }

            if (items.GetArrayLength() == 0)
            {
                // The log's writer may be a few ms behind the live end.
                if (waited.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new InvalidOperationException($"job {job}: its log stops at seq {since} and is not finished after 30 s");
                }

                await Task.Delay(200, cancellationToken);
            }
        }
    }

    private async Task<Guid> SubmitAsync(string source, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(
            () => new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = JsonContent.Create(new { source, device_requested = "cpu", plugins = Plugins }) },
            cancellationToken) ?? throw new InvalidOperationException($"POST /v1/jobs ({source}) had no answer");
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/jobs ({source}) answered {(int)response.StatusCode}: {body}");
        }

        using var created = JsonDocument.Parse(body);
        return created.RootElement.GetProperty("job_id").GetGuid();
    }

    private static async Task<string?> StatusAsync(ServerProcess server, Guid job, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        using var list = JsonDocument.Parse(await server.Http.GetStringAsync(new Uri("/v1/jobs?limit=5", UriKind.Relative), timeout.Token));
        var found = list.RootElement.GetProperty("items").EnumerateArray().FirstOrDefault(j => j.GetProperty("job_id").GetGuid() == job);
        return found.ValueKind == JsonValueKind.Object ? found.GetProperty("status").GetString() : null;
    }

    /// <summary>Uploads every ~2 s a generated picture and keeps at most 5, deleting the oldest.</summary>
    private async Task UploadChurnAsync(Stopwatch clock, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var random = new Random(4242);
        var kept = new Queue<string>();
        while (clock.Elapsed < deadline)
        {
            if (await UploadAsync(random, cancellationToken) is { } name)
            {
                kept.Enqueue(name);
            }

            while (kept.Count > 5)
            {
                await DeleteUploadAsync(kept.Dequeue(), cancellationToken);
            }

            await Task.Delay(random.Next(1000, 3000), cancellationToken);
        }

        while (kept.Count > 0)
        {
            await DeleteUploadAsync(kept.Dequeue(), cancellationToken);
        }
    }

    /// <summary><c>POST /v1/media</c> of a generated 24-bit BMP (64×48 to 320×240 of noise): its name, or null after an error.</summary>
    private async Task<string?> UploadAsync(Random random, CancellationToken cancellationToken)
    {
        var picture = Bmp(random.Next(64, 321), random.Next(48, 241), random);
        using var response = await SendAsync(() =>
        {
            var file = new ByteArrayContent(picture);
            file.Headers.ContentType = new MediaTypeHeaderValue("image/bmp");
            var form = new MultipartFormDataContent { { file, "file", "soak.bmp" } };
            return new HttpRequestMessage(HttpMethod.Post, "/v1/media") { Content = form };
        }, cancellationToken);
        if (response is null)
        {
            return null;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            if ((int)response.StatusCode < 500)
            {
                Unexpected($"POST /v1/media answered {(int)response.StatusCode}: {body}");
            }

            return null;
        }

        Interlocked.Increment(ref _uploads);
        using var created = JsonDocument.Parse(body);
        return created.RootElement.GetProperty("name").GetString();
    }

    /// <summary>
    /// <c>DELETE /v1/media/{name}</c>, expecting 204. A 409 (a job still uses it) is retried for up to 10 s: the end of a
    /// job on the file reaches its subscribers a moment before the job's row says it ended (counted, not an error).
    /// </summary>
    private async Task DeleteUploadAsync(string name, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        for (var attempt = 0; ; attempt++)
        {
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, $"/v1/media/{name}"), cancellationToken);
            if (response is { StatusCode: HttpStatusCode.NoContent })
            {
                Interlocked.Increment(ref _deletes);
                if (attempt > 0)
                {
                    Interlocked.Increment(ref _deletesRetried);
                }

                return;
            }

            if (response is { StatusCode: HttpStatusCode.Conflict } && waited.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(250, cancellationToken);
                continue;
            }

            if (response is { } r && (int)r.StatusCode < 500)
            {
                Unexpected($"DELETE /v1/media/{name} answered {(int)r.StatusCode} (after {waited.Elapsed.TotalSeconds:F1} s)");
            }

            return;
        }
    }

    /// <summary>Sends with a 30 s limit; counts a 5xx and a missing answer as server errors (the answer is still returned).</summary>
    private async Task<HttpResponseMessage?> SendAsync(Func<HttpRequestMessage> request, CancellationToken cancellationToken, ServerProcess? server = null)
    {
        server ??= _server!;
        using var message = request();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        Interlocked.Increment(ref _requests);
        try
        {
            var response = await server.Http.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token);
            if ((int)response.StatusCode >= 500)
            {
                Interlocked.Increment(ref _http5xx);
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                ServerError($"{message.Method} {message.RequestUri} answered {(int)response.StatusCode}: {Shorten(body)}");
            }

            return response;
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _hangs);
            ServerError($"{message.Method} {message.RequestUri}: no answer ({ex.GetType().Name}: {ex.Message})");
            return null;
        }
    }

    /// <summary>Every line of the server's output: <c>fail:</c>/<c>crit:</c> lines (and the two after) are errors; purges are counted.</summary>
    private void Observe(string line)
    {
        if (line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _errorLogLines);
            Interlocked.Exchange(ref _captureLines, 2);
            ServerError("server log: " + line);
            return;
        }

        if (Volatile.Read(ref _captureLines) > 0 && Interlocked.Decrement(ref _captureLines) >= 0)
        {
            Remember(_errors, "  " + Shorten(line.Trim()));
        }

        if (PurgedLine().Match(line) is { Success: true } purged)
        {
            Interlocked.Increment(ref _purges);
            Interlocked.Add(ref _purgedMessages, long.Parse(purged.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture));
            Console.WriteLine($"  [server] {line.Trim()}");
        }
    }

    [GeneratedRegex(@"Purged ([\d,]+) job messages")]
    private static partial Regex PurgedLine();

    private async Task SampleRssAsync(Stopwatch clock, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                SampleRss(clock);
                await Task.Delay(RssInterval, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run is over.
        }
    }

    private void SampleRss(Stopwatch clock)
    {
        try
        {
            if (_server is { HasExited: false } server)
            {
                var megabytes = server.RssBytes / 1048576.0;
                lock (_rss)
                {
                    _rss.Add(new RssSample(clock.Elapsed.TotalMinutes, megabytes));
                }
            }
        }
        catch (IOException)
        {
            // The process is gone: reported as a server error at the end.
        }
    }

    private async Task PrintProgressAsync(Stopwatch clock, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
                double rss;
                lock (_rss)
                {
                    rss = _rss.Count == 0 ? double.NaN : _rss[^1].Megabytes;
                }

                Console.WriteLine(
                    $"  {clock.Elapsed.TotalMinutes,5:F1} min: {Interlocked.Read(ref _jobsRun)} jobs, {Fmt.I(Interlocked.Read(ref _delivered))} messages delivered, " +
                    $"{Interlocked.Read(ref _uploads)} uploads, {Interlocked.Read(ref _purges)} purges, RSS {Fmt.N(rss, 1)} MB, " +
                    $"server errors {Interlocked.Read(ref _serverErrors)}, seq failures {Interlocked.Read(ref _seqFailures)}, " +
                    $"unexpected refusals {Interlocked.Read(ref _unexpected)}");
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run is over.
        }
    }

    /// <summary>Least-squares slope (MB/min) of the samples after the first 20 % of the run, and how many it used.</summary>
    internal static (double Slope, int Count) Slope(IReadOnlyList<RssSample> samples, double fromMinutes)
    {
        var after = samples.Where(s => s.Minutes >= fromMinutes).ToList();
        if (after.Count < 3)
        {
            return (double.NaN, after.Count);
        }

        var meanX = after.Average(s => s.Minutes);
        var meanY = after.Average(s => s.Megabytes);
        var sxx = after.Sum(s => (s.Minutes - meanX) * (s.Minutes - meanX));
        var sxy = after.Sum(s => (s.Minutes - meanX) * (s.Megabytes - meanY));
        return (sxx == 0 ? double.NaN : sxy / sxx, after.Count);
    }

    private void Publish(TimeSpan measured, Guid? seedJob, double seedSeconds, long seedLastSeq, string? seedPurged)
    {
        List<RssSample> rss;
        lock (_rss)
        {
            rss = [.. _rss];
        }

        var warmUp = measured.TotalMinutes * 0.2;
        var (slope, used) = Slope(rss, warmUp);
        var minutes = measured.TotalMinutes;
        var table = new Table($"Soak: {Fmt.N(minutes, 1)} min of job churn on a database seeded with a {Fmt.I(options.SoakSeedFrames)}-frame job", "figure", "value")
        {
            Note = "Realtime:ReplayPurgeInterval 00:01:00, Realtime:ReplayRetention 00:02:00, Media:MaxUploadsPerClientPerMinute 0 (one address), Jobs:MaxConcurrentJobs 2 (default). " +
                   $"{Lanes} lanes submit small frame_quality jobs one after another (50 % paced 150–600 frames at 40–100 fps, 30 % of " +
                   "those cancelled mid-way; 40 % unpaced 200–800 frames; 10 % on an uploaded picture, deleted after the job); " +
                   $"{options.SoakSubscribers} WebSocket subscribers spread over the lanes follow each job with since=0, one in five " +
                   "drops its connection once mid-job (abort or close) and resumes with since = its last seq; an upload churn posts a " +
                   "generated BMP every 1–3 s and deletes the oldest beyond 5. Server errors: HTTP 5xx, no answer within 30 s, " +
                   "unexpected WebSocket closes, fail:/crit: lines in the server's log. RSS from /proc/<pid>/status every 10 s; " +
                   "slope = least squares over the samples after the first 20 % of the run.",
        };
        table.Add("seed job", seedJob is null ? "none" : $"{Fmt.I(options.SoakSeedFrames)} frames, {Fmt.I(seedLastSeq)} messages, run in {Fmt.N(seedSeconds, 1)} s");
        table.Add("seed job's log at the end", seedPurged ?? "–");
        table.Add("jobs run (cancelled / on uploads)", $"{Fmt.I(_jobsRun)} ({Fmt.I(_jobsCancelled)} / {Fmt.I(_jobsOnUploads)})");
        table.Add("messages delivered to subscribers", Fmt.I(_delivered));
        table.Add("subscriber streams complete", $"{Fmt.I(_completeStreams)} of {Fmt.I(_subscriberStreams)} ({Fmt.I(_resumes)} resumed mid-job)");
        table.Add("job logs complete (GET /events)", $"{Fmt.I(_logsComplete)} of {Fmt.I(_logsChecked)}");
        table.Add("uploads / deletes (of which retried after a 409)", $"{Fmt.I(_uploads)} / {Fmt.I(_deletes)} ({Fmt.I(_deletesRetried)})");
        table.Add("unexpected refusals (4xx where success was expected)", Fmt.I(_unexpected));
        table.Add("purges seen (messages deleted)", $"{Fmt.I(_purges)} ({Fmt.I(_purgedMessages)})");
        table.Add("HTTP requests", Fmt.I(_requests));
        table.Add("server errors: 5xx / no answer / bad closes / error log lines",
            $"{Fmt.I(_http5xx)} / {Fmt.I(_hangs)} / {Fmt.I(_badCloses)} / {Fmt.I(_errorLogLines)} (total {Fmt.I(_serverErrors)})");
        table.Add("RSS first / max / last sample", rss.Count == 0 ? "–" : $"{Fmt.N(rss[0].Megabytes, 1)} / {Fmt.N(rss.Max(s => s.Megabytes), 1)} / {Fmt.N(rss[^1].Megabytes, 1)} MB");
        table.Add($"RSS slope after warm-up ({Fmt.N(warmUp, 1)} min)", $"{Fmt.N(slope, 2)} MB/min over {used} samples");
        report.Add(table);

        foreach (var line in _errors.Concat(_seqErrors).Take(40))
        {
            Console.WriteLine("  ! " + line);
        }

        report.Target(new TargetCheck(
            "soak: 0 server errors (5xx, no answer, unexpected closes, error log lines)",
            Fmt.I(_serverErrors),
            _serverErrors == 0,
            _errors.IsEmpty ? "" : Shorten(_errors.First())));
        report.Target(new TargetCheck(
            "soak: every subscriber's and the log's seq complete (and no unexpected refusal)",
            $"{Fmt.I(_completeStreams)}/{Fmt.I(_subscriberStreams)} streams, {Fmt.I(_logsComplete)}/{Fmt.I(_logsChecked)} logs",
            _seqFailures == 0 && _unexpected == 0 && _completeStreams == _subscriberStreams && _logsComplete == _logsChecked && _jobsRun > 0,
            _seqErrors.IsEmpty ? "" : Shorten(_seqErrors.First())));
        report.Target(new TargetCheck(
            "soak: the purge deleted during the run",
            $"{Fmt.I(_purges)} purges, {Fmt.I(_purgedMessages)} messages; seed log: {seedPurged ?? "–"}",
            minutes >= 2.5 && seedJob is not null ? _purges > 0 && seedPurged?.StartsWith("410", StringComparison.Ordinal) == true : null,
            minutes >= 2.5 ? "" : "n/a: shorter than the retention + one interval"));
        report.Target(new TargetCheck("soak: RSS slope after warm-up (reported, no limit)", $"{Fmt.N(slope, 2)} MB/min", null));
        report.Data("soak", new
        {
            minutes,
            subscribers = options.SoakSubscribers,
            seed_frames = options.SoakSeedFrames,
            seed_messages = seedLastSeq,
            seed_seconds = seedSeconds,
            seed_log_at_end = seedPurged,
            jobs_run = _jobsRun,
            jobs_cancelled = _jobsCancelled,
            jobs_on_uploads = _jobsOnUploads,
            delivered = _delivered,
            subscriber_streams = _subscriberStreams,
            complete_streams = _completeStreams,
            resumes = _resumes,
            logs_checked = _logsChecked,
            logs_complete = _logsComplete,
            uploads = _uploads,
            deletes = _deletes,
            deletes_retried_after_409 = _deletesRetried,
            unexpected_refusals = _unexpected,
            purges = _purges,
            purged_messages = _purgedMessages,
            requests = _requests,
            server_errors = _serverErrors,
            http_5xx = _http5xx,
            no_answer = _hangs,
            bad_closes = _badCloses,
            error_log_lines = _errorLogLines,
            seq_failures = _seqFailures,
            rss_slope_mb_per_min = slope,
            rss_warm_up_minutes = warmUp,
            rss,
            errors = _errors.ToArray(),
            seq_errors = _seqErrors.ToArray(),
        });
    }

    private void ServerError(string what)
    {
        Interlocked.Increment(ref _serverErrors);
        Remember(_errors, what);
        Console.WriteLine("  ! " + Shorten(what));
    }

    /// <summary>A refusal (4xx) where the run expects success: not the server failing, but the run fails on it too.</summary>
    private void Unexpected(string what)
    {
        Interlocked.Increment(ref _unexpected);
        Remember(_seqErrors, what);
        Console.WriteLine("  ! " + Shorten(what));
    }

    private void BadClose(string what)
    {
        Interlocked.Increment(ref _badCloses);
        ServerError(what);
    }

    private void SeqFailure(string what)
    {
        Interlocked.Increment(ref _seqFailures);
        Remember(_seqErrors, what);
        Console.WriteLine("  ! " + Shorten(what));
    }

    private static void Remember(ConcurrentQueue<string> queue, string line)
    {
        queue.Enqueue(line);
        while (queue.Count > 200 && queue.TryDequeue(out _))
        {
            // Keep the last ones.
        }
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>An uncompressed 24-bit BMP of noise (OpenCV reads it; no encoder needed).</summary>
    private static byte[] Bmp(int width, int height, Random random)
    {
        var row = ((width * 3) + 3) & ~3;
        var size = 54 + (row * height);
        var bytes = new byte[size];
        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), size);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(34), row * height);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(38), 2835);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(42), 2835);
        random.NextBytes(bytes.AsSpan(54));
        return bytes;
    }
}
