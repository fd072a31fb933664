using System.Diagnostics;
using CleanRealtime.Bench.Driver;
using CleanRealtime.Bench.Reporting;

namespace CleanRealtime.Bench.Scenarios;

/// <summary>One paced publish of <see cref="Count"/> frames to every connected client, and what arrived.</summary>
internal sealed record StepResult(
    string Kind,
    int Clients,
    double TargetRate,
    long Count,
    long Published,
    double PublishedPerSecond,
    bool PublisherKept,
    long Delivered,
    long MinClientReceived,
    double LossFraction,
    double DeliveriesPerSecond,
    double P50Ms,
    double P95Ms,
    double P99Ms,
    double MaxMs,
    double ServerCpuMs,
    double CpuMicrosecondsPerDelivery,
    int MessageBytes)
{
    /// <summary>Every client got every frame, and the publisher kept the rate.</summary>
    public bool Ok => PublisherKept && Published == Count && Delivered == Published * Clients;
}

/// <summary>The figures of one server kind at one client count.</summary>
internal sealed record KindResult(string Kind, int Clients, StepResult AtFixedRate, StepResult? MaxLossless, double? FirstLossyRate, IReadOnlyList<StepResult> Steps);

/// <summary>
/// Fan-out: frames published at a steady rate by the server itself (bench control endpoint) and delivered to 1, 5, 100
/// WebSocket clients of the driver; loss, latency and the server process's CPU time per delivery, at 1000 msg/s and at
/// the maximum rate without loss (doubling from 1000 msg/s until a step loses a frame or the publisher falls behind,
/// then bisecting). The real server and the bare Kestrel baseline run side by side as child processes, each with its
/// own clients, and are measured in alternating steps at the same rates, so that machine noise hits both alike.
/// </summary>
internal sealed class FanOutScenario(BenchOptions options, Report report)
{
    private const double FixedRate = 1000;
    private const double RampCap = 4_096_000;
    private int _run;

    private double FixedSeconds => options.Quick ? 1 : 5;

    private double StepSeconds => options.Quick ? 0.25 : 2;

    private int Bisections => options.Quick ? 2 : 4;

    private TimeSpan Idle => TimeSpan.FromSeconds(options.Quick ? 0.5 : 1);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var settings = new ServeSettings(options.MessageBytes, options.QueueCapacity, MaxConnections: 2000);
        var results = new List<(int Clients, KindResult Real, KindResult Bare)>();
        try
        {
            await using var real = await ServerProcess.StartAsync("real", settings, cancellationToken);
            await using var bare = await ServerProcess.StartAsync("bare", settings, cancellationToken);
            foreach (var clients in options.Clients)
            {
                var (r, b) = await MeasureAsync(real, bare, clients, cancellationToken);
                results.Add((clients, r, b));
            }
        }
        finally
        {
            // Client counts measured before a failure are still reported.
            if (results.Count > 0)
            {
                Publish(results);
            }
        }
    }

    private async Task<(KindResult Real, KindResult Bare)> MeasureAsync(
        ServerProcess real, ServerProcess bare, int count, CancellationToken cancellationToken)
    {
        var realClients = new List<BenchClient>();
        var bareClients = new List<BenchClient>();
        try
        {
            realClients = await ConnectAsync(real, count, cancellationToken);
            bareClients = await ConnectAsync(bare, count, cancellationToken);

            // JIT, pools and socket buffers warm before anything is measured.
            foreach (var (server, clients) in new[] { (real, realClients), (bare, bareClients) })
            {
                await StepAsync(server, clients, options.Quick ? 5000 : 10_000, options.Quick ? 0.3 : 1, cancellationToken);
            }

            var searches = new[]
            {
                new RateSearch(real, realClients, await StepAsync(real, realClients, FixedRate, FixedSeconds, cancellationToken), Bisections),
                new RateSearch(bare, bareClients, await StepAsync(bare, bareClients, FixedRate, FixedSeconds, cancellationToken), Bisections),
            };
            for (var round = 0; round < 40 && searches.Any(s => s.NextRate is not null); round++)
            {
                foreach (var search in searches)
                {
                    if (search.NextRate is { } rate)
                    {
                        search.Record(await StepAsync(search.Server, search.Clients, rate, StepSeconds, cancellationToken));
                    }
                }
            }

            return (searches[0].ToResult(), searches[1].ToResult());
        }
        finally
        {
            await ClientPool.CloseAsync([.. realClients, .. bareClients]);
            foreach (var server in new[] { real, bare })
            {
                try
                {
                    await server.WaitForConnectionsAsync(0, TimeSpan.FromSeconds(10), CancellationToken.None);
                }
                catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or OperationCanceledException)
                {
                    // The server is gone; the error that matters is already on its way.
                }
            }
        }
    }

    private static async Task<List<BenchClient>> ConnectAsync(ServerProcess server, int count, CancellationToken cancellationToken)
    {
        var (clients, failed) = await ClientPool.ConnectAsync(server.RealtimeUri, count, parallel: 32, bufferBytes: 4096, cancellationToken);
        if (failed > 0 || await ClientPool.WaitWelcomedAsync(clients, TimeSpan.FromSeconds(20), cancellationToken) < count)
        {
            await ClientPool.CloseAsync(clients);
            throw new InvalidOperationException($"only {clients.Count} of {count} clients connected to the {server.Kind} server and got its welcome");
        }

        return clients;
    }

    /// <summary>
    /// The search for one kind's maximum lossless rate: doubling from the fixed rate while steps are lossless (halving
    /// below it if even that one lost frames), then bisecting between the last lossless and the first lossy rate. A
    /// failed step is repeated once before its rate counts as lossy.
    /// </summary>
    private sealed class RateSearch
    {
        private readonly List<StepResult> _steps = [];
        private readonly StepResult _atFixed;
        private StepResult? _good;
        private double? _bad;
        private bool _bisecting;
        private int _bisectionsLeft;
        private bool _retried;

        public RateSearch(ServerProcess server, List<BenchClient> clients, StepResult atFixed, int bisections)
        {
            Server = server;
            Clients = clients;
            _atFixed = atFixed;
            _steps.Add(atFixed);
            _bisectionsLeft = bisections;
            (_good, _bad) = atFixed.Ok ? (atFixed, (double?)null) : (null, FixedRate);
            NextRate = atFixed.Ok ? FixedRate * 2 : FixedRate / 2;
        }

        public ServerProcess Server { get; }

        public List<BenchClient> Clients { get; }

        /// <summary>The rate of the next step, or null when the search is over.</summary>
        public double? NextRate { get; private set; }

        public void Record(StepResult step)
        {
            _steps.Add(step);
            var rate = step.TargetRate;

            // A rate is lossy only if it loses twice in a row: one retry absorbs a one-off stall on a shared machine.
            if (!step.Ok && !_retried)
            {
                _retried = true;
                NextRate = rate;
                return;
            }

            _retried = false;
            if (step.Ok)
            {
                _good = step;
            }
            else
            {
                _bad = rate;
            }

            if (!_bisecting && _good is not null && _bad is not null)
            {
                _bisecting = true;
            }
            else if (!_bisecting)
            {
                // Still doubling up (all good so far) or halving down (all lossy so far).
                var next = step.Ok ? rate * 2 : rate / 2;
                NextRate = next <= RampCap && next >= FixedRate / 8 ? next : null;
                return;
            }
            else
            {
                _bisectionsLeft--;
            }

            NextRate = _bisectionsLeft > 0 ? Math.Round((_good!.TargetRate + _bad!.Value) / 2) : null;
        }

        public KindResult ToResult() => new(Server.Kind, Clients.Count, _atFixed, _good, _bad, _steps);
    }

    private async Task<StepResult> StepAsync(
        ServerProcess server, List<BenchClient> clients, double rate, double seconds, CancellationToken cancellationToken)
    {
        var run = _run = (_run % Wire.BenchFrameId.MaxRun) + 1;
        var count = (long)Math.Clamp(Math.Round(rate * seconds), 200, 20_000_000);
        var states = clients.Select(c => c.BeginRun(run)).ToArray();

        var cpuBefore = server.CpuTime;
        var started = Stopwatch.GetTimestamp();
        var published = await server.PublishAsync(run, count, rate, cancellationToken);
        var expected = published.Published * clients.Count;

        var hardDeadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        long lastTotal = -1;
        var lastProgress = Stopwatch.GetTimestamp();
        while (true)
        {
            var total = states.Sum(s => s.Received);
            var now = Stopwatch.GetTimestamp();
            if (total >= expected || now > hardDeadline)
            {
                break;
            }

            if (total != lastTotal)
            {
                (lastTotal, lastProgress) = (total, now);
            }
            else if (Stopwatch.GetElapsedTime(lastProgress, now) > Idle)
            {
                break;
            }

            await Task.Delay(5, cancellationToken);
        }

        var cpu = server.CpuTime - cpuBefore;
        var delivered = states.Sum(s => s.Received);
        var lastAt = states.Max(s => s.LastAt);
        var window = lastAt > started ? Stopwatch.GetElapsedTime(started, lastAt).TotalSeconds : double.NaN;
        var percentiles = LatencyHistogram.PercentilesMs(states.Select(s => s.Latency).ToList(), 0.50, 0.95, 0.99);
        var step = new StepResult(
            server.Kind, clients.Count, rate, count, published.Published, published.Rate,
            PublisherKept: published.Published == count && published.Rate >= 0.95 * rate,
            delivered, states.Min(s => s.Received),
            LossFraction: 1 - (delivered / (double)(count * clients.Count)),
            DeliveriesPerSecond: delivered / window,
            percentiles[0], percentiles[1], percentiles[2], states.Max(s => s.Latency.MaxMicroseconds) / 1000.0,
            cpu.TotalMilliseconds,
            CpuMicrosecondsPerDelivery: delivered == 0 ? double.NaN : cpu.TotalMicroseconds / delivered,
            states.Max(s => s.MessageBytes));

        Console.WriteLine(
            $"  {server.Kind,-4} {clients.Count,4} clients {Fmt.N(rate),11} msg/s: published {Fmt.N(step.PublishedPerSecond),11}/s, " +
            $"delivered {Fmt.N(step.DeliveriesPerSecond),11}/s, loss {Fmt.Pct(step.LossFraction, 2),8}, p99 {Fmt.N(step.P99Ms, 2),7} ms, " +
            $"CPU {Fmt.N(step.CpuMicrosecondsPerDelivery, 2),6} µs/delivery{(step.Ok ? string.Empty : "  ✗")}");
        await Task.Delay(100, cancellationToken);
        return step;
    }

    private void Publish(List<(int Clients, KindResult Real, KindResult Bare)> results)
    {
        var bytes = results.SelectMany(r => new[] { r.Real.AtFixedRate.MessageBytes, r.Bare.AtFixedRate.MessageBytes }).DefaultIfEmpty(0).Max();
        var atFixed = new Table(
            $"Fan-out at {Fmt.N(FixedRate)} msg/s for {Fmt.N(FixedSeconds)} s ({Fmt.I(bytes)}-byte frame messages)",
            "clients", "server", "published/s", "deliveries/s", "loss", "min per client", "p50 ms", "p95 ms", "p99 ms", "server CPU µs/delivery")
        {
            Note = "At this low rate the server CPU per delivery is dominated by fixed costs between messages (.NET thread-pool workers " +
                   "spin-wait after each wake-up by default, as in bare; the product turns that off); compare CPU at the maximum rate below.",
        };
        var atMax = new Table(
            "Fan-out at the maximum rate without loss",
            "clients", "server", "max lossless msg/s", "deliveries/s", "p50 ms", "p95 ms", "p99 ms", "server CPU µs/delivery", "first lossy msg/s")
        {
            Note = $"Doubling from {Fmt.N(FixedRate)} msg/s in {Fmt.N(StepSeconds, 2)} s steps until a frame is lost or the publisher falls " +
                   $"below 95 % of the rate (twice in a row at the same rate), then {Bisections} bisection steps. Per-connection queue: {Fmt.I(options.QueueCapacity)} messages " +
                   "(drop oldest frame) on both servers. Server CPU = user+system time of the server process over the step / deliveries.",
        };

        foreach (var (clients, real, bare) in results)
        {
            foreach (var k in new[] { real, bare })
            {
                var s = k.AtFixedRate;
                atFixed.Add(Fmt.I(clients), k.Kind, Fmt.N(s.PublishedPerSecond), Fmt.N(s.DeliveriesPerSecond), Fmt.Pct(s.LossFraction, 2),
                    $"{Fmt.I(s.MinClientReceived)}/{Fmt.I(s.Count)}", Fmt.N(s.P50Ms, 2), Fmt.N(s.P95Ms, 2), Fmt.N(s.P99Ms, 2),
                    Fmt.N(s.CpuMicrosecondsPerDelivery, 2));
                var m = k.MaxLossless;
                atMax.Add(Fmt.I(clients), k.Kind, m is null ? "none" : Fmt.N(m.TargetRate), Fmt.N(m?.DeliveriesPerSecond ?? double.NaN),
                    Fmt.N(m?.P50Ms ?? double.NaN, 2), Fmt.N(m?.P95Ms ?? double.NaN, 2), Fmt.N(m?.P99Ms ?? double.NaN, 2),
                    Fmt.N(m?.CpuMicrosecondsPerDelivery ?? double.NaN, 2), k.FirstLossyRate is { } f ? Fmt.N(f) : $"> {Fmt.N(RampCap)}");
            }

            atFixed.Add(Fmt.I(clients), "**real/bare**", Fmt.Ratio(real.AtFixedRate.PublishedPerSecond / bare.AtFixedRate.PublishedPerSecond),
                Fmt.Ratio(real.AtFixedRate.DeliveriesPerSecond / bare.AtFixedRate.DeliveriesPerSecond), string.Empty, string.Empty,
                Fmt.Ratio(real.AtFixedRate.P50Ms / bare.AtFixedRate.P50Ms), Fmt.Ratio(real.AtFixedRate.P95Ms / bare.AtFixedRate.P95Ms),
                Fmt.Ratio(real.AtFixedRate.P99Ms / bare.AtFixedRate.P99Ms),
                Fmt.Ratio(real.AtFixedRate.CpuMicrosecondsPerDelivery / bare.AtFixedRate.CpuMicrosecondsPerDelivery));
            atMax.Add(Fmt.I(clients), "**real/bare**", Fmt.Ratio(Rate(real) / Rate(bare)), Fmt.Ratio(Deliveries(real) / Deliveries(bare)),
                Fmt.Ratio(Max(real, s => s.P50Ms) / Max(bare, s => s.P50Ms)), Fmt.Ratio(Max(real, s => s.P95Ms) / Max(bare, s => s.P95Ms)),
                Fmt.Ratio(Max(real, s => s.P99Ms) / Max(bare, s => s.P99Ms)),
                Fmt.Ratio(Max(real, s => s.CpuMicrosecondsPerDelivery) / Max(bare, s => s.CpuMicrosecondsPerDelivery)), string.Empty);

            var ratio = Deliveries(real) / Deliveries(bare);
            report.Target(new TargetCheck(
                $"fan-out deliveries/s ≥ 80 % of bare ({clients} clients, max lossless rate)",
                $"{Fmt.N(Deliveries(real))}/s = {Fmt.Pct(ratio, 0)} of bare {Fmt.N(Deliveries(bare))}/s",
                double.IsNaN(ratio) ? null : ratio >= 0.8));
            var cpu = Max(real, s => s.CpuMicrosecondsPerDelivery);
            report.Target(new TargetCheck(
                $"server CPU per delivery ≤ 0.6 µs ({clients} clients, max lossless rate)",
                $"{Fmt.N(cpu, 2)} µs (bare {Fmt.N(Max(bare, s => s.CpuMicrosecondsPerDelivery), 2)} µs)",
                double.IsNaN(cpu) ? null : cpu <= 0.6,
                clients == 5 ? "the issue's reference configuration (5 clients)" : string.Empty));
        }

        if (results.FirstOrDefault(r => r.Clients == 100) is { Real: { } hundred })
        {
            var s = hundred.AtFixedRate;
            report.Target(new TargetCheck(
                "p99 ≤ 3 ms at 1000 msg/s to 100 clients, every client at the full rate",
                $"p99 {Fmt.N(s.P99Ms, 2)} ms; slowest client got {Fmt.I(s.MinClientReceived)} of {Fmt.I(s.Count)}",
                s.P99Ms <= 3 && s.MinClientReceived == s.Count && s.PublisherKept));
        }

        report.Add(atFixed);
        report.Add(atMax);
        report.Data("fanout", new
        {
            message_bytes = bytes,
            queue_capacity = options.QueueCapacity,
            fixed_rate = FixedRate,
            fixed_seconds = FixedSeconds,
            step_seconds = StepSeconds,
            results = results.Select(r => new { r.Clients, r.Real, r.Bare }).ToList(),
        });
    }

    private static double Rate(KindResult k) => k.MaxLossless?.TargetRate ?? double.NaN;

    private static double Deliveries(KindResult k) => k.MaxLossless?.DeliveriesPerSecond ?? double.NaN;

    private static double Max(KindResult k, Func<StepResult, double> figure) => k.MaxLossless is { } m ? figure(m) : double.NaN;
}
