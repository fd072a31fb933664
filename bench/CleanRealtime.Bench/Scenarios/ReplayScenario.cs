using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using CleanRealtime.Bench.Driver;
using CleanRealtime.Bench.Reporting;
using CleanRealtime.Bench.Serve;
using CleanRealtime.Bench.Wire;

namespace CleanRealtime.Bench.Scenarios;

/// <summary>One timed replay to one client: how many job messages, and when the connection, the first and the last came.</summary>
internal sealed record ReplaySample(long Messages, double ConnectMs, double FirstMs, double LastMs, bool Complete)
{
    /// <summary>Messages / (connect started → last message): what a resuming client sees, handshake and welcome included.</summary>
    public double Rate => Messages / (LastMs / 1000);

    /// <summary>Messages / (first → last replayed message): the replay alone.</summary>
    public double StreamRate => Messages > 1 && LastMs > FirstMs ? (Messages - 1) / ((LastMs - FirstMs) / 1000) : double.NaN;
}

/// <summary>
/// Replay and the event log (issue 8), on the real server: (1) messages/s to one WebSocket client connecting with
/// <c>since=0</c> to a finished job of <see cref="LogFrames"/> frames (the whole job from the event log), and the same
/// log read through <c>GET /v1/jobs/{id}/events</c> pages of 1000; (2) messages/s of the catch-up of a client connecting
/// with <c>since</c> = <see cref="TailBehind"/> messages behind the live head of a paced running job (served from the
/// job's in-memory tail, no database read); (3) events/s that <c>JobEventWriter</c> stores through
/// <c>IJobEventLog.AppendAsync</c> on the server's SQLite file, at its default batch size (bench endpoint
/// <c>POST /bench/eventlog</c>, <see cref="EventLogBench"/>). Every replay is checked: seq after <c>since</c>, in order,
/// none missing, none twice.
/// </summary>
internal sealed class ReplayScenario(BenchOptions options, Report report)
{
    private const int TailBehind = 500;
    private const int PacedFps = 240;
    private static readonly string[] Plugins = ["frame_quality"];
    private static readonly TimeSpan ReplayTimeout = TimeSpan.FromSeconds(120);

    private int LogFrames => options.Quick ? 1000 : 10_000;

    private int Repetitions => options.Quick ? 1 : 3;

    private int TailSamples => options.Quick ? 2 : 5;

    private int AppendEvents => options.Quick ? 10_000 : 100_000;

    private static string Source(int frames, int fps = 0) => string.Create(
        CultureInfo.InvariantCulture, $"synthetic:pitch?frames={frames}&width=64&height=64{(fps > 0 ? $"&fps={fps}" : "")}");

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await using var server = await ServerProcess.StartAsync("real", new ServeSettings(options.MessageBytes, options.QueueCapacity, 100), cancellationToken);

        // JIT, EF Core's first queries and the replay path warm up on a small job before anything is measured.
        var warm = await SubmitAsync(server, Source(300), cancellationToken);
        await WaitForEndAsync(server, warm, TimeSpan.FromSeconds(120), cancellationToken);
        var (warmLast, _) = await ReadAllEventsAsync(server, warm, cancellationToken);
        await ReplayAsync(server, warm, 0, warmLast, cancellationToken);

        // (1) A finished job, replayed from its event log.
        var job = await SubmitAsync(server, Source(LogFrames), cancellationToken);
        await WaitForEndAsync(server, job, TimeSpan.FromSeconds(60 + (LogFrames / 10)), cancellationToken);
        var log = new List<ReplaySample>();
        var rest = new List<ReplaySample>();
        long lastSeq = 0;
        for (var i = 0; i < Repetitions; i++)
        {
            var sample = await ReplayAsync(server, job, 0, await LastSeqAsync(server, job, cancellationToken), cancellationToken);
            log.Add(sample);
            var (last, page) = await ReadAllEventsAsync(server, job, cancellationToken);
            lastSeq = last;
            rest.Add(page);
            Console.WriteLine(
                $"  log  since=0 {sample.Messages,7:N0} messages: {Fmt.N(sample.Rate),9} msg/s connect→last, {Fmt.N(sample.StreamRate),9} msg/s first→last, " +
                $"complete {sample.Complete}; REST pages {Fmt.N(page.Rate),9} msg/s");
        }

        // (2) A paced running job: catch-up from since = head − TailBehind, inside the in-memory tail.
        var tail = await MeasureTailAsync(server, cancellationToken);

        // (3) Log append throughput, on the warm-up job (the log's rows reference an existing job), after its own seqs.
        var appends = new List<EventLogAppendResult>();
        for (var i = 0; i < Repetitions; i++)
        {
            var firstSeq = warmLast + 1 + ((long)i * AppendEvents);
            var result = await server.PostAsync<EventLogAppendResult>(
                string.Create(CultureInfo.InvariantCulture, $"/bench/eventlog?job={warm}&firstSeq={firstSeq}&events={AppendEvents}"),
                TimeSpan.FromSeconds(300), cancellationToken);
            appends.Add(result);
            Console.WriteLine(
                $"  append {result.Events,7:N0} events ({result.MessageBytes} B, batches of {result.BatchSize}): {Fmt.N(result.EventsPerSecond),9} events/s");
        }

        Publish(lastSeq, log, rest, tail, appends);
    }

    private async Task<List<ReplaySample>> MeasureTailAsync(ServerProcess server, CancellationToken cancellationToken)
    {
        // Long enough for a head start of TailBehind messages and TailSamples catch-ups one second apart.
        var frames = PacedFps * (8 + (2 * TailSamples));
        var job = await SubmitAsync(server, Source(frames, PacedFps), cancellationToken);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long head = 0;
        var watcher = WatchHeadAsync(server, job, seq => Volatile.Write(ref head, seq), watching.Token);

        var samples = new List<ReplaySample>();
        try
        {
            var waited = Stopwatch.StartNew();
            while (Volatile.Read(ref head) < TailBehind * 2)
            {
                if (waited.Elapsed > TimeSpan.FromSeconds(60) || watcher.IsCompleted)
                {
                    throw new InvalidOperationException($"the paced job {job} did not reach seq {TailBehind * 2} (at {Volatile.Read(ref head)})");
                }

                await Task.Delay(50, cancellationToken);
            }

            for (var i = 0; i < TailSamples; i++)
            {
                var until = Volatile.Read(ref head);
                var sample = await ReplayAsync(server, job, until - TailBehind, until, cancellationToken);
                samples.Add(sample);
                Console.WriteLine(
                    $"  tail since=head−{TailBehind} {sample.Messages,5:N0} messages: {Fmt.N(sample.Rate),9} msg/s connect→last, " +
                    $"{Fmt.N(sample.StreamRate),9} msg/s first→last, complete {sample.Complete}");
                await Task.Delay(1000, cancellationToken);
            }
        }
        finally
        {
            await watching.CancelAsync();
            try
            {
                await watcher;
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                // The watcher ends with the measurement.
            }
        }

        await WaitForEndAsync(server, job, TimeSpan.FromSeconds(60 + (frames / PacedFps)), cancellationToken);
        return samples;
    }

    private void Publish(long lastSeq, List<ReplaySample> log, List<ReplaySample> rest, List<ReplaySample> tail, List<EventLogAppendResult> appends)
    {
        var table = new Table(
            "Replay: job messages/s to one client",
            "source", "job", "messages", "runs", "connect ms", "msg/s connect→last (median)", "min–max", "msg/s first→last (median)", "complete")
        {
            Note = $"Log: a finished job of {Fmt.I(LogFrames)} 64×64 synthetic frames (frame_quality), one WebSocket client with since=0, " +
                   "timed from the connect call to the job's last message (welcome included); REST: the same log through " +
                   "GET /v1/jobs/{id}/events?limit=1000, page after page, one client. Tail: a job paced at " +
                   $"{PacedFps} fps, a client connecting with since = the live head seen by another client − {TailBehind}, timed " +
                   "to that head's message (inside the 1024-message in-memory tail, no database read). Complete = every seq " +
                   "after since, in order, none missing, none twice.",
        };
        AddRow(table, "event log, WebSocket since=0", "finished", log);
        AddRow(table, "event log, REST /events pages", "finished", rest);
        AddRow(table, $"in-memory tail, WebSocket since=head−{TailBehind}", "running", tail);
        report.Add(table);

        var append = new Table(
            "Event log append throughput (JobEventWriter → IJobEventLog.AppendAsync, SQLite)",
            "events/run", "batch size", "message bytes", "runs", "events/s (median)", "min–max")
        {
            Note = "Inside the real server process: a JobEventWriter with the product's options over the server's IJobEventLog " +
                   "(EF Core, the server's SQLite file in WAL mode), fed frame messages as fast as AppendAsync takes them, then " +
                   "flushed; events / (first append → flush complete).",
        };
        if (appends.Count > 0)
        {
            var rates = appends.Select(a => a.EventsPerSecond).ToList();
            append.Add(Fmt.I(appends[0].Events), Fmt.I(appends[0].BatchSize), Fmt.I(appends[0].MessageBytes), Fmt.I(appends.Count),
                Fmt.N(Median(rates)), $"{Fmt.N(rates.Min())}–{Fmt.N(rates.Max())}");
        }

        report.Add(append);

        var complete = log.Concat(rest).Concat(tail).ToList();
        report.Target(new TargetCheck(
            "replay complete: every seq after since, in order, once (issue 8)",
            $"{complete.Count(s => s.Complete)} of {complete.Count} replays; log job last seq {Fmt.I(lastSeq)}",
            complete.Count == 0 ? null : complete.All(s => s.Complete)));
        report.Data("replay", new { log_frames = LogFrames, last_seq = lastSeq, tail_behind = TailBehind, paced_fps = PacedFps, log, rest, tail, appends });
    }

    private static void AddRow(Table table, string source, string job, List<ReplaySample> samples)
    {
        if (samples.Count == 0)
        {
            return;
        }

        var rates = samples.Select(s => s.Rate).ToList();
        table.Add(source, job, Fmt.I(samples[0].Messages), Fmt.I(samples.Count), Fmt.N(Median(samples.Select(s => s.ConnectMs).ToList()), 1),
            Fmt.N(Median(rates)), $"{Fmt.N(rates.Min())}–{Fmt.N(rates.Max())}", Fmt.N(Median(samples.Select(s => s.StreamRate).ToList())),
            samples.All(s => s.Complete) ? "yes" : $"{samples.Count(s => s.Complete)}/{samples.Count}");
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>
    /// One WebSocket client with <c>job_id</c> and <c>since</c>: from the connect call until the message with seq
    /// <paramref name="untilSeq"/>; counts the job messages after <paramref name="since"/> up to it and checks their order.
    /// </summary>
    private static async Task<ReplaySample> ReplayAsync(ServerProcess server, Guid job, long since, long untilSeq, CancellationToken cancellationToken)
    {
        var uri = new UriBuilder(server.RealtimeUri)
        {
            Query = string.Create(CultureInfo.InvariantCulture, $"job_id={job}&since={since}"),
        }.Uri;
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(ReplayTimeout);

        var started = Stopwatch.GetTimestamp();
        await socket.ConnectAsync(uri, deadline.Token);
        var connectMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;

        var buffer = new byte[1 << 16];
        var length = 0;
        long received = 0, expected = since + 1;
        var inOrder = true;
        double firstMs = double.NaN, lastMs;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), deadline.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException($"the server closed the replay of job {job} from {since} at seq {expected - 1}: {socket.CloseStatusDescription}");
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

            var complete = Envelope.TryReadSeq(buffer.AsSpan(0, length), out var seq);
            length = 0;
            if (!complete || seq <= since)
            {
                continue;
            }

            if (double.IsNaN(firstMs))
            {
                firstMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }

            if (seq <= untilSeq)
            {
                received++;
                inOrder &= seq == expected;
                expected = seq + 1;
            }

            if (seq >= untilSeq)
            {
                lastMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                break;
            }
        }

        socket.Abort();
        return new ReplaySample(received, connectMs, firstMs, lastMs, inOrder && received == untilSeq - since);
    }

    /// <summary>A client of the paced job without <c>since</c> (snapshot, then live) reporting every seq it sees.</summary>
    private static async Task WatchHeadAsync(ServerProcess server, Guid job, Action<long> onSeq, CancellationToken cancellationToken)
    {
        var uri = new UriBuilder(server.RealtimeUri) { Query = string.Create(CultureInfo.InvariantCulture, $"job_id={job}") }.Uri;
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(uri, cancellationToken);
        var buffer = new byte[1 << 16];
        var length = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
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

            if (Envelope.TryReadSeq(buffer.AsSpan(0, length), out var seq))
            {
                onSeq(seq);
            }

            length = 0;
        }
    }

    private static Task<Guid> SubmitAsync(ServerProcess server, string source, CancellationToken cancellationToken) =>
        server.SubmitJobAsync(source, Plugins, cancellationToken);

    private static async Task WaitForEndAsync(ServerProcess server, Guid job, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            // The list carries no frames (GET /v1/jobs/{id} would carry all of them): polling costs the job little.
            using var list = JsonDocument.Parse(await server.Http.GetStringAsync(new Uri("/v1/jobs?limit=5", UriKind.Relative), cancellationToken));
            var found = list.RootElement.GetProperty("items").EnumerateArray()
                .FirstOrDefault(j => j.GetProperty("job_id").GetGuid() == job);
            var status = found.ValueKind == JsonValueKind.Object ? found.GetProperty("status").GetString() : null;
            if (status is "completed")
            {
                return;
            }

            if (status is "failed" or "cancelled" || waited.Elapsed > timeout)
            {
                throw new InvalidOperationException($"job {job} ended {status} (after {waited.Elapsed.TotalSeconds:F0} s)");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>The job's last stored seq, from the last page of <c>/events</c>.</summary>
    private static async Task<long> LastSeqAsync(ServerProcess server, Guid job, CancellationToken cancellationToken) =>
        (await ReadAllEventsAsync(server, job, cancellationToken)).LastSeq;

    /// <summary>Reads the whole log through <c>GET /v1/jobs/{id}/events</c> (pages of 1000), timed and checked like a replay.</summary>
    private static async Task<(long LastSeq, ReplaySample Sample)> ReadAllEventsAsync(ServerProcess server, Guid job, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        long since = 0, received = 0;
        var inOrder = true;
        double firstMs = double.NaN;
        while (true)
        {
            using var page = JsonDocument.Parse(await server.Http.GetStringAsync(
                new Uri(string.Create(CultureInfo.InvariantCulture, $"/v1/jobs/{job}/events?since={since}&limit=1000"), UriKind.Relative), cancellationToken));
            if (double.IsNaN(firstMs))
            {
                firstMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }

            foreach (var item in page.RootElement.GetProperty("items").EnumerateArray())
            {
                var seq = item.GetProperty("seq").GetInt64();
                inOrder &= seq == since + 1;
                since = seq;
                received++;
            }

            if (page.RootElement.GetProperty("finished").GetBoolean())
            {
                break;
            }

            if (page.RootElement.GetProperty("items").GetArrayLength() == 0)
            {
                throw new InvalidOperationException($"the event log of job {job} ends at seq {since} but is not finished");
            }
        }

        var lastMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return (since, new ReplaySample(received, double.NaN, firstMs, lastMs, inOrder && received == since));
    }
}
