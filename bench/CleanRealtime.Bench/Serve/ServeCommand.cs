using System.Globalization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Bench.Serve;

/// <summary>
/// The arguments of <c>CleanRealtime.Bench serve</c>. <c>--set key=value</c> (repeatable, <c>real</c> only) adds product
/// configuration after the bench's own, e.g. <c>--set Storage:Provider=postgres</c> for the cluster scenario.
/// </summary>
internal sealed record ServeOptions(string Kind, int Port, int MessageBytes, int QueueCapacity, int MaxConnections)
{
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>
    /// <c>--root DIR</c>: the folder of the SQLite file and media (kept at exit), so that a later server can start on the
    /// same database (the soak scenario restarts on a seeded one). Null: a temp folder, deleted at exit.
    /// </summary>
    public string? Root { get; init; }

    public static ServeOptions Parse(IReadOnlyList<string> args)
    {
        var kind = "real";
        int port = 0, size = 200, queue = 1000, connections = 20_000;
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        string? root = null;
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--kind": kind = value; break;
                case "--port": port = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--size": size = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--queue-capacity": queue = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--max-connections": connections = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--root": root = Path.GetFullPath(value); break;
                case "--set" when value.IndexOf('=', StringComparison.Ordinal) is > 0 and var equals:
                    settings[value[..equals]] = value[(equals + 1)..];
                    break;
                case "--set": throw new ArgumentException("--set takes key=value");
                default: throw new ArgumentException($"unknown serve option {args[i]}");
            }

            i++;
        }

        if (kind is not ("real" or "bare"))
        {
            throw new ArgumentException("--kind must be real or bare");
        }

        if (port is < 0 or > 65535 || size is < 64 or > 65536 || queue < 1 || connections < 1)
        {
            throw new ArgumentException("--port 0..65535, --size 64..65536, --queue-capacity >= 1, --max-connections >= 1");
        }

        if (settings.Count > 0 && kind != "real")
        {
            throw new ArgumentException("--set applies to --kind real only");
        }

        return new ServeOptions(kind, port, size, queue, connections) { Settings = settings, Root = root };
    }
}

/// <summary>
/// <c>CleanRealtime.Bench serve --kind real|bare --port N</c>: a benchmark server as its own process, so that its CPU time
/// and memory are measured alone. Prints <c>READY &lt;address&gt;</c> once listening; stops when its standard input closes
/// (the driver closes it, or dies) or on SIGTERM/SIGINT. Binds 127.0.0.1 only.
/// </summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(ServeOptions options)
    {
        var keep = options.Root is not null;
        var root = keep ? Directory.CreateDirectory(options.Root!) : Directory.CreateTempSubdirectory("cleanrealtime-bench-");
        try
        {
            var app = options.Kind == "real" ? RealServer.Build(options, root.FullName) : BareServer.Build(options, root.FullName);
            await using (app)
            {
                await app.StartAsync();
                var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
                await Console.Out.WriteLineAsync($"READY {address}");
                await Console.Out.FlushAsync();

                await Task.WhenAny(ParentGoneAsync(), Task.Delay(Timeout.Infinite, app.Lifetime.ApplicationStopping));
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await app.StopAsync(deadline.Token);
            }
        }
        finally
        {
            try
            {
                if (!keep)
                {
                    root.Delete(recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The temp folder is left for the OS to clean.
            }
        }

        return 0;
    }

    /// <summary>Completes when standard input reaches its end: the driver closed it or is gone.</summary>
    private static Task ParentGoneAsync()
    {
        var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watcher = new Thread(() =>
        {
            try
            {
                while (Console.In.ReadLine() is not null)
                {
                    // Nothing is sent on stdin; it only signals the parent's presence.
                }
            }
            catch (IOException)
            {
                // Broken pipe: the parent is gone.
            }

            gone.TrySetResult();
        })
        {
            IsBackground = true,
            Name = "parent-watch",
        };
        watcher.Start();
        return gone.Task;
    }
}
