using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CleanRealtime.Bench.Driver;
using CleanRealtime.Bench.Reporting;
using CleanRealtime.Bench.Wire;
using Testcontainers.PostgreSql;
using Testcontainers.Redis;

namespace CleanRealtime.Bench.Scenarios;

/// <summary>One job delivered to every client: deliveries, what went missing, latency and the servers' CPU.</summary>
internal sealed record DeliverySample(long Deliveries, long Missing, long LastSeq, double Seconds, double P50Ms, double P99Ms, double MaxMs, double SubscriberCpuMs, double TotalCpuMs)
{
    public double SubscriberCpuPerDeliveryUs => SubscriberCpuMs * 1000 / Deliveries;

    public double TotalCpuPerDeliveryUs => TotalCpuMs * 1000 / Deliveries;

    public double Rate => LastSeq / Seconds;
}

/// <summary>
/// Issue 9's benchmark, on real PostgreSQL and Redis containers (Testcontainers; the images come from
/// <c>scripts/containers.sh</c>): (1) <b>cross-node delivery</b>: <see cref="Clients"/> WebSocket clients on an api-only
/// node, following every job, while a real job (five plugins on 64×64 synthetic frames paced at <see cref="Fps"/> fps,
/// about 1,000 messages/s) runs on a worker-only node and crosses Redis; beside the same job and clients on a single
/// default node (SQLite, no backplane). Latency = the client's clock at receipt − the envelope's <c>timestamp</c> (when the
/// running node built the message; one machine, one clock). Every client must receive every seq of the job once, in
/// order. (2) <b>job claim latency</b>: tiny jobs submitted one after another to the api node, <c>started_at −
/// created_at</c> as the server records them (a worker on another node claims it after a NOTIFY), beside the single
/// node's in-process queue.
/// </summary>
internal sealed class ClusterScenario(BenchOptions options, Report report)
{
    private const int Clients = 100;
    private const int Fps = 200;
    private static readonly string[] Plugins = ["frame_quality", "pitch_detection", "motion_detection", "ball_detection", "player_detection"];
    private static readonly string[] ClaimPlugins = ["frame_quality"];
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(120);

    private int Frames => options.Quick ? 400 : 2000;

    private int Runs => options.Quick ? 1 : 3;

    private int ClaimJobs => options.Quick ? 5 : 20;

    private string Source => string.Create(CultureInfo.InvariantCulture, $"synthetic:pitch?frames={Frames}&fps={Fps}&width=64&height=64");

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Environment.GetEnvironmentVariable("CLEANREALTIME_CONTAINER_TESTS") != "on")
        {
            const string why = "skipped: needs Docker and the local images (run `source scripts/containers.sh` first)";
            Console.WriteLine($"  {why}");
            report.Target(new TargetCheck("cluster: every client of the cross-node job gets every seq (issue 9)", why, null));
            return;
        }

        Console.WriteLine("  starting PostgreSQL and Redis containers...");
        await using var postgres = new PostgreSqlBuilder(Environment.GetEnvironmentVariable("CLEANREALTIME_POSTGRES_IMAGE") ?? "postgres:15").Build();
        await using var redis = new RedisBuilder(Environment.GetEnvironmentVariable("CLEANREALTIME_REDIS_IMAGE") ?? "redis:7.0").Build();
        await Task.WhenAll(postgres.StartAsync(cancellationToken), redis.StartAsync(cancellationToken));

        var singleRuns = new List<DeliverySample>();
        var crossRuns = new List<DeliverySample>();
        List<double> singleClaims, clusterClaims;
        await using (var single = await ServerProcess.StartAsync("real", Settings(), cancellationToken))
        {
            await WarmUpAsync(single, cancellationToken);
            for (var i = 0; i < Runs; i++)
            {
                singleRuns.Add(await DeliverAsync("single node", single, single, [single], cancellationToken));
            }

            singleClaims = await ClaimLatencyAsync("single node", single, cancellationToken);
        }

        var cluster = new Dictionary<string, string>
        {
            ["Storage:Provider"] = "postgres", ["ConnectionStrings:Jobs"] = postgres.GetConnectionString(),
            ["Realtime:Backplane"] = "redis", ["ConnectionStrings:Redis"] = redis.GetConnectionString(),
        };
        await using (var worker = await ServerProcess.StartAsync("real", Settings(cluster, "worker"), cancellationToken))
        await using (var api = await ServerProcess.StartAsync("real", Settings(cluster, "api"), cancellationToken))
        {
            await WarmUpAsync(api, cancellationToken);
            for (var i = 0; i < Runs; i++)
            {
                crossRuns.Add(await DeliverAsync("cross-node", api, api, [api, worker], cancellationToken));
            }

            clusterClaims = await ClaimLatencyAsync("cluster", api, cancellationToken);
        }

        Publish(singleRuns, crossRuns, singleClaims, clusterClaims);
    }

    private ServeSettings Settings(Dictionary<string, string>? product = null, string? roles = null)
    {
        var settings = new Dictionary<string, string>(product ?? [])
        {
            // Every bench client comes from one address and no submission must be refused by a fair-share limit.
            ["Jobs:MaxQueuedJobsPerClient"] = "1000",
        };
        if (roles is not null)
        {
            settings["Node:Roles"] = roles;
        }

        return new ServeSettings(options.MessageBytes, options.QueueCapacity, MaxConnections: Clients + 100) { Product = settings };
    }

    /// <summary>JIT, EF Core's first queries, OpenCV and the backplane warm up on a short job with a few clients.</summary>
    private static async Task WarmUpAsync(ServerProcess subscriberNode, CancellationToken cancellationToken)
    {
        var clients = await ConnectAsync(subscriberNode, 5, cancellationToken);
        try
        {
            var job = await subscriberNode.SubmitJobAsync($"synthetic:pitch?frames=100&fps={Fps}&width=64&height=64", Plugins, cancellationToken);
            await Task.WhenAll(clients.Select(c => c.ReceiveJobAsync(job, JobTimeout, cancellationToken)));
        }
        finally
        {
            await CloseAsync(clients);
        }
    }

    private async Task<DeliverySample> DeliverAsync(
        string label, ServerProcess subscriberNode, ServerProcess submitNode, ServerProcess[] nodes, CancellationToken cancellationToken)
    {
        var clients = await ConnectAsync(subscriberNode, Clients, cancellationToken);
        try
        {
            var cpuBefore = nodes.Select(n => n.CpuTime).ToArray();
            var started = Stopwatch.GetTimestamp();
            var job = await submitNode.SubmitJobAsync(Source, Plugins, cancellationToken);
            var results = await Task.WhenAll(clients.Select(c => c.ReceiveJobAsync(job, JobTimeout, cancellationToken)));
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var cpu = nodes.Select((n, i) => (n.CpuTime - cpuBefore[i]).TotalMilliseconds).ToArray();

            var lastSeq = results.Max(r => r.LastSeq);
            var deliveries = results.Sum(r => r.Received);
            var latency = LatencyHistogram.PercentilesMs([.. results.Select(r => r.Latency)], 0.5, 0.99, 1.0);
            var sample = new DeliverySample(deliveries, (lastSeq * Clients) - deliveries, lastSeq, seconds, latency[0], latency[1], latency[2], cpu[0], cpu.Sum());
            Console.WriteLine(
                $"  {label,-12} {Clients} clients, {Fmt.I(lastSeq)} messages ({Fmt.N(sample.Rate)} msg/s): {Fmt.I(deliveries)} deliveries, " +
                $"{Fmt.I(sample.Missing)} missing, p50 {Fmt.N(sample.P50Ms, 2)} ms, p99 {Fmt.N(sample.P99Ms, 2)} ms, " +
                $"subscriber node {Fmt.N(sample.SubscriberCpuPerDeliveryUs, 2)} µs/delivery, all nodes {Fmt.N(sample.TotalCpuPerDeliveryUs, 2)} µs/delivery");
            return sample;
        }
        finally
        {
            await CloseAsync(clients);
        }
    }

    /// <summary>Tiny jobs one after another: started_at − created_at of each, in milliseconds, as the server recorded them.</summary>
    private async Task<List<double>> ClaimLatencyAsync(string label, ServerProcess node, CancellationToken cancellationToken)
    {
        var claims = new List<double>(ClaimJobs);
        for (var i = 0; i < ClaimJobs; i++)
        {
            var job = await node.SubmitJobAsync("synthetic:pitch?frames=1&width=64&height=64", ClaimPlugins, cancellationToken);
            var waited = Stopwatch.StartNew();
            while (true)
            {
                using var state = JsonDocument.Parse(await node.Http.GetStringAsync(new Uri($"/v1/jobs/{job}/extended", UriKind.Relative), cancellationToken));
                var status = state.RootElement.GetProperty("status").GetString();
                if (status == "completed")
                {
                    var created = state.RootElement.GetProperty("created_at").GetDateTime();
                    var startedAt = state.RootElement.GetProperty("started_at").GetDateTime();
                    claims.Add((startedAt - created).TotalMilliseconds);
                    break;
                }

                if (status is "failed" or "cancelled" || waited.Elapsed > JobTimeout)
                {
                    throw new InvalidOperationException($"claim-latency job {job} on the {label} ended {status} after {waited.Elapsed.TotalSeconds:F0} s");
                }

                await Task.Delay(20, cancellationToken);
            }

            // Idle between jobs, as a worker between submissions: a claim after a wait, not back-to-back.
            await Task.Delay(200, cancellationToken);
        }

        claims.Sort();
        Console.WriteLine($"  {label,-12} claim latency over {claims.Count} jobs: p50 {Fmt.N(Quantile(claims, 0.5), 1)} ms, max {Fmt.N(claims[^1], 1)} ms");
        return claims;
    }

    private void Publish(List<DeliverySample> single, List<DeliverySample> cross, List<double> singleClaims, List<double> clusterClaims)
    {
        var delivery = new Table(
            "Cross-node delivery (issue 9): one job, ~1,000 messages/s, to 100 WebSocket clients",
            "clients on", "runs", "messages/run", "msg/s", "deliveries", "missing", "p50 ms", "p99 ms", "max ms",
            "subscriber node CPU µs/delivery", "all nodes CPU µs/delivery")
        {
            Note = $"A real job: five plugins on {Fmt.I(Frames)} 64×64 synthetic frames paced at {Fps} fps. Single node: the default " +
                   "(SQLite, no backplane), clients on the node running the job (its CPU includes running the job). Cross-node: " +
                   "PostgreSQL + Redis containers, the job on a worker-only node, the clients on an api-only node (messages cross " +
                   "Redis; the subscriber node's CPU is the fan-out's, 'all nodes' adds the worker's). Latency: client clock at " +
                   "receipt − the envelope's timestamp (one machine, one clock). Medians over runs; PostgreSQL/Redis CPU not counted.",
        };
        AddRow(delivery, "the node running the job (single node)", single);
        AddRow(delivery, "another node (cluster, through Redis)", cross);
        report.Add(delivery);

        var claim = new Table("Job claim latency (issue 9): submission → the job started on a worker", "queue", "jobs", "p50 ms", "p99 ms", "max ms")
        {
            Note = "Tiny jobs submitted one after another to an idle server (200 ms apart), started_at − created_at as the server " +
                   "recorded them. Single node: the in-process queue. Cluster: submitted to the api-only node, claimed by the " +
                   "worker-only node with FOR UPDATE SKIP LOCKED after PostgreSQL's NOTIFY woke it (poll every 1 s as the safety net).",
        };
        claim.Add("single node (in-process channel)", Fmt.I(singleClaims.Count), Fmt.N(Quantile(singleClaims, 0.5), 1),
            Fmt.N(Quantile(singleClaims, 0.99), 1), Fmt.N(singleClaims[^1], 1));
        claim.Add("cluster (PostgreSQL, other node)", Fmt.I(clusterClaims.Count), Fmt.N(Quantile(clusterClaims, 0.5), 1),
            Fmt.N(Quantile(clusterClaims, 0.99), 1), Fmt.N(clusterClaims[^1], 1));
        report.Add(claim);

        var all = single.Concat(cross).ToList();
        report.Target(new TargetCheck(
            "cluster: every client of the job gets every seq once, in order, on either node (issue 9)",
            $"{Fmt.I(all.Sum(s => s.Missing))} deliveries missing over {all.Count} runs", all.All(s => s.Missing == 0)));
        report.Data("cluster", new { clients = Clients, fps = Fps, frames = Frames, single, cross, single_claims_ms = singleClaims, cluster_claims_ms = clusterClaims });
    }

    private static void AddRow(Table table, string where, List<DeliverySample> runs)
    {
        double Median(Func<DeliverySample, double> f) => Quantile([.. runs.Select(f).Order()], 0.5);
        table.Add(where, Fmt.I(runs.Count), Fmt.I(runs[0].LastSeq), Fmt.N(Median(s => s.Rate)), Fmt.I(runs.Sum(s => s.Deliveries)),
            Fmt.I(runs.Sum(s => s.Missing)), Fmt.N(Median(s => s.P50Ms), 2), Fmt.N(Median(s => s.P99Ms), 2), Fmt.N(runs.Max(s => s.MaxMs), 2),
            Fmt.N(Median(s => s.SubscriberCpuPerDeliveryUs), 2), Fmt.N(Median(s => s.TotalCpuPerDeliveryUs), 2));
    }

    /// <summary>The q-quantile of sorted values (nearest rank).</summary>
    private static double Quantile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static async Task<List<JobClient>> ConnectAsync(ServerProcess node, int count, CancellationToken cancellationToken)
    {
        var clients = new List<JobClient>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                clients.Add(await JobClient.ConnectAsync(node.RealtimeUri, cancellationToken));
            }
        }
        catch
        {
            await CloseAsync(clients);
            throw;
        }

        return clients;
    }

    private static Task CloseAsync(List<JobClient> clients) => Task.WhenAll(clients.Select(c => c.CloseAsync()));

    /// <summary>What one client saw of one job.</summary>
    private sealed record JobResult(long Received, long LastSeq, LatencyHistogram Latency);

    /// <summary>
    /// A WebSocket client following every job (no <c>job_id</c>), welcomed before the job is submitted. Reads the job's
    /// messages until its last (<c>progress</c> 100 with its stage), checks their seqs (1, 2, … once each) and times each
    /// from its envelope timestamp.
    /// </summary>
    private sealed class JobClient(ClientWebSocket socket)
    {
        private byte[] _buffer = new byte[1 << 16];

        public static async Task<JobClient> ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            var socket = new ClientWebSocket();
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            try
            {
                await socket.ConnectAsync(uri, cancellationToken);
                var client = new JobClient(socket);
                await client.ReceiveAsync(cancellationToken); // the welcome
                return client;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        public async Task<JobResult> ReceiveJobAsync(Guid job, TimeSpan timeout, CancellationToken cancellationToken)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            var latency = new LatencyHistogram();
            var jobMarker = Encoding.UTF8.GetBytes($"\"job_id\":\"{job}\"");
            long received = 0, expected = 1;
            while (true)
            {
                var length = await ReceiveAsync(deadline.Token);
                var message = _buffer.AsSpan(0, length);
                if (!Envelope.TryReadSeq(message, out var seq) || message.IndexOf(jobMarker) < 0)
                {
                    continue;
                }

                var now = DateTime.UtcNow;
                if (seq != expected)
                {
                    throw new InvalidOperationException($"job {job}: a client received seq {seq} where {expected} was due");
                }

                expected++;
                received++;
                if (Envelope.TryReadTimestamp(message, out var sentTicks))
                {
                    latency.Record(Math.Max(0, now.Ticks - sentTicks) / TimeSpan.TicksPerMicrosecond);
                }

                if (message.IndexOf("\"type\":\"progress\""u8) >= 0 && message.IndexOf("\"progress\":100"u8) >= 0)
                {
                    if (message.IndexOf("\"stage\":\"completed\""u8) < 0)
                    {
                        throw new InvalidOperationException($"job {job} did not complete: {Encoding.UTF8.GetString(message)}");
                    }

                    return new JobResult(received, seq, latency);
                }
            }
        }

        public async Task CloseAsync()
        {
            try
            {
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, grace.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or InvalidOperationException)
            {
                socket.Abort();
            }
            finally
            {
                socket.Dispose();
            }
        }

        private async Task<int> ReceiveAsync(CancellationToken cancellationToken)
        {
            var length = 0;
            while (true)
            {
                var result = await socket.ReceiveAsync(_buffer.AsMemory(length), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    throw new InvalidOperationException($"the server closed a bench client: {socket.CloseStatus} {socket.CloseStatusDescription}");
                }

                length += result.Count;
                if (result.EndOfMessage)
                {
                    return length;
                }

                if (length == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }
            }
        }
    }
}
