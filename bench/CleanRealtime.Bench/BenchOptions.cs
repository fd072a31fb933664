using System.Globalization;

namespace CleanRealtime.Bench;

/// <summary>The driver's command line: <c>[all|fanout|scale|pipeline|replay|micro|cluster]... [--quick] [options]</c>.</summary>
internal sealed record BenchOptions
{
    public static readonly string[] AllScenarios = ["micro", "fanout", "scale", "pipeline", "replay"];

    /// <summary>Every scenario, in the order they run; <c>peers</c> needs the reference peers' sources, so <c>all</c> leaves it out.</summary>
    public static readonly string[] KnownScenarios = [.. AllScenarios, "peers", "cluster", "soak"];


    public const string Usage = """
        usage: dotnet run -c Release --project bench/CleanRealtime.Bench -- [all|fanout|scale|pipeline|replay|micro|peers|cluster|soak]... [options]

          all (default)          every scenario: micro, fanout, scale, pipeline, replay (not peers, cluster, soak)
          peers                  issue 11: the project against the SignalR and plain Kestrel reference peers
          cluster                issue 9: needs Docker (source scripts/containers.sh first); PostgreSQL + Redis
                                 containers and two nodes: cross-node delivery and job claim latency
          soak                   issue 16 (not CI): --soak-minutes of job churn, uploads, 100 subscribers and a purge every
                                 minute on a database seeded with a 100,000-frame job; fails on any server error or missing seq
          --quick                smoke run: short steps, 500 connections, few frames (figures indicative only)
          --clients 1,5,100      fan-out client counts
          --connections N        idle connections for scale (default 10000, quick 500)
          --size N               frame message size in bytes (default 200)
          --queue-capacity N     per-connection outbound queue of both servers (default 1000, the product default)
          --out DIR              where latest.json / latest.md go (default bench/results)
          --peer-cases LIST      peers cases to run, of full,100x1000,5x1000 (default all three)
          --repetitions N        peers: repetitions per case and server, medians over them (default 5, quick 1)
          --soak-minutes N       soak: measured run length in minutes (default 30)
          --soak-subscribers N   soak: WebSocket subscribers at once (default 100)
          --soak-seed-frames N   soak: frames of the job the database is seeded with (default 100000)
          --peers DIR            the reference peers' sources for peers (default ../shared/peers beside the repository; copied, never written)

        internal: CleanRealtime.Bench serve --kind real|bare --port N   (a benchmark server; started by the driver)
        """;

    public required IReadOnlyList<string> Scenarios { get; init; }

    public bool Quick { get; init; }

    public IReadOnlyList<int> Clients { get; init; } = [1, 5, 100];

    public int Connections { get; init; } = 10_000;

    public int MessageBytes { get; init; } = 200;

    public int QueueCapacity { get; init; } = 1000;

    public required string OutputDirectory { get; init; }

    public required string PeersDirectory { get; init; }

    public IReadOnlyList<string> PeerCases { get; init; } = ["full", "100x1000", "5x1000"];

    /// <summary>Repetitions per peers case and server (null: 5, or 1 with --quick).</summary>
    public int? Repetitions { get; init; }

    /// <summary>soak: the measured run's length.</summary>
    public TimeSpan SoakDuration { get; init; } = TimeSpan.FromMinutes(30);

    public int SoakSubscribers { get; init; } = 100;

    public int SoakSeedFrames { get; init; } = 100_000;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var scenarios = new List<string>();
        var quick = false;
        int[]? clients = null;
        int? connections = null;
        int size = 200, queue = 1000;
        string? output = null;
        string? peers = null;
        string[]? peerCases = null;
        int? repetitions = null;
        double soakMinutes = 30;
        int soakSubscribers = 100, soakSeedFrames = 100_000;
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "all":
                    scenarios.AddRange(AllScenarios);
                    break;
                case "fanout" or "scale" or "pipeline" or "replay" or "micro" or "peers" or "cluster" or "soak":
                    scenarios.Add(args[i]);
                    break;
                case "--quick":
                    quick = true;
                    break;
                case "--clients":
                    clients = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--connections":
                    connections = int.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--size":
                    size = int.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--queue-capacity":
                    queue = int.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--out":
                    output = Value();
                    break;
                case "--repetitions":
                    repetitions = int.Parse(Value(), CultureInfo.InvariantCulture);
                    if (repetitions is < 1 or > 100)
                    {
                        throw new ArgumentException("--repetitions takes 1..100");
                    }

                    break;
                case "--peers":
                    peers = Value();
                    break;
                case "--soak-minutes":
                    soakMinutes = double.Parse(Value(), CultureInfo.InvariantCulture);
                    if (soakMinutes is < 0.5 or > 600)
                    {
                        throw new ArgumentException("--soak-minutes takes 0.5..600");
                    }

                    break;
                case "--soak-subscribers":
                    soakSubscribers = int.Parse(Value(), CultureInfo.InvariantCulture);
                    if (soakSubscribers is < 1 or > 1000)
                    {
                        throw new ArgumentException("--soak-subscribers takes 1..1000");
                    }

                    break;
                case "--soak-seed-frames":
                    soakSeedFrames = int.Parse(Value(), CultureInfo.InvariantCulture);
                    if (soakSeedFrames is < 0 or > 100_000)
                    {
                        throw new ArgumentException("--soak-seed-frames takes 0..100000 (Jobs:MaxFrames)");
                    }

                    break;
                case "--peer-cases":
                    peerCases = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (peerCases.Length == 0 || peerCases.Any(c => c is not ("full" or "100x1000" or "5x1000")))
                    {
                        throw new ArgumentException("--peer-cases takes full, 100x1000 and/or 5x1000");
                    }

                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }

        if (clients is { } c && (c.Length == 0 || c.Any(n => n is < 1 or > 1000)))
        {
            throw new ArgumentException("--clients takes 1..1000 clients per entry");
        }

        if (connections is < 1 or > 15_000)
        {
            throw new ArgumentException("--connections takes 1..15000 (each process has a 20000 fd limit)");
        }

        if (size is < 150 or > 65_536 || queue < 1)
        {
            throw new ArgumentException("--size takes 150..65536 bytes, --queue-capacity at least 1");
        }

        return new BenchOptions
        {
            Scenarios = scenarios.Count == 0 ? AllScenarios : KnownScenarios.Where(scenarios.Contains).ToArray(),
            Quick = quick,
            Clients = clients ?? [1, 5, 100],
            Connections = connections ?? (quick ? 500 : 10_000),
            MessageBytes = size,
            QueueCapacity = queue,
            OutputDirectory = Path.GetFullPath(output ?? DefaultOutputDirectory()),
            PeersDirectory = Path.GetFullPath(peers ?? DefaultPeersDirectory()),
            PeerCases = peerCases ?? ["full", "100x1000", "5x1000"],
            Repetitions = repetitions,
            SoakDuration = TimeSpan.FromMinutes(soakMinutes),
            SoakSubscribers = soakSubscribers,
            SoakSeedFrames = soakSeedFrames,
        };
    }

    /// <summary>The reference peers the issue names: <c>../shared/peers</c> beside the repository (found from the build output).</summary>
    private static string DefaultPeersDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CleanRealtime.sln")))
            {
                return Path.Combine(dir.FullName, "..", "shared", "peers");
            }
        }

        return Path.Combine("..", "shared", "peers");
    }

    /// <summary>bench/results next to this project, found from the build output; else ./bench/results.</summary>
    private static string DefaultOutputDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CleanRealtime.Bench", "CleanRealtime.Bench.csproj")))
            {
                return Path.Combine(dir.FullName, "results");
            }
        }

        return Path.Combine("bench", "results");
    }
}
