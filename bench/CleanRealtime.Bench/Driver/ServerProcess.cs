using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Reflection;
using CleanRealtime.Bench.Wire;

namespace CleanRealtime.Bench.Driver;

/// <summary>Settings handed to a benchmark server child process.</summary>
internal sealed record ServeSettings(int MessageBytes, int QueueCapacity, int MaxConnections)
{
    /// <summary>Product configuration for a <c>real</c> server (<c>serve --set key=value</c>).</summary>
    public IReadOnlyDictionary<string, string> Product { get; init; } = new Dictionary<string, string>();

    /// <summary>The server's folder (SQLite file, media), kept after it stops (<c>serve --root</c>); null: a temp folder.</summary>
    public string? Root { get; init; }
}

/// <summary>
/// A benchmark server (<c>serve --kind real|bare</c>) running as a child process of the driver. Its CPU time and RSS are
/// read from outside (<see cref="Process.TotalProcessorTime"/>, <c>/proc/&lt;pid&gt;/status</c>), so they are the
/// server's alone. Always stopped: by <see cref="DisposeAsync"/> (close stdin, then kill), and by <see cref="KillAll"/>
/// on Ctrl+C, process exit and unhandled errors; a child whose driver died sees its stdin close and stops itself.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<int, Process> Running = new();

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private readonly bool _external;

    private ServerProcess(string kind, Process process, ConcurrentQueue<string> output, Uri baseAddress, bool external = false)
    {
        _external = external;
        Kind = kind;
        _process = process;
        _output = output;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
    }

    public string Kind { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public Uri RealtimeUri => new UriBuilder(BaseAddress) { Scheme = "ws", Path = "/v1/realtime" }.Uri;

    /// <summary>User + system CPU time of the server process so far (all its threads).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Resident set size of the server process, from <c>/proc/&lt;pid&gt;/status</c>.</summary>
    public long RssBytes
    {
        get
        {
            foreach (var line in File.ReadLines($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }

            return 0;
        }
    }

    /// <param name="environment">Extra environment variables of the child, e.g. <c>Jobs__PipelineParallelism</c> (configuration).</param>
    /// <param name="onOutput">Sees every line the child writes (stdout and stderr), e.g. to count its error log lines.</param>
    public static async Task<ServerProcess> StartAsync(
        string kind, ServeSettings settings, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null,
        Action<string>? onOutput = null)
    {
        var start = kind == "real" ? ProductRuntimeCommand() ?? SelfCommand() : SelfCommand();
        foreach (var arg in new[]
                 {
                     "serve", "--kind", kind, "--port", "0",
                     "--size", settings.MessageBytes.ToString(CultureInfo.InvariantCulture),
                     "--queue-capacity", settings.QueueCapacity.ToString(CultureInfo.InvariantCulture),
                     "--max-connections", settings.MaxConnections.ToString(CultureInfo.InvariantCulture),
                 })
        {
            start.ArgumentList.Add(arg);
        }

        if (settings.Root is { } root)
        {
            start.ArgumentList.Add("--root");
            start.ArgumentList.Add(root);
        }

        foreach (var (key, value) in settings.Product)
        {
            start.ArgumentList.Add("--set");
            start.ArgumentList.Add($"{key}={value}");
        }

        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;

        // The product (src/Api, Web SDK) runs with Server GC; so do both benchmark servers (real: also from the product's runtimeconfig).
        start.Environment["DOTNET_gcServer"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var output = new ConcurrentQueue<string>();
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && line.StartsWith("READY ", StringComparison.Ordinal))
            {
                ready.TrySetResult(line["READY ".Length..].Trim());
            }
            else if (e.Data is not null)
            {
                Remember(output, e.Data);
                onOutput?.Invoke(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Remember(output, e.Data);
                onOutput?.Invoke(e.Data);
            }
        };
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException(
            $"the {kind} server exited before it was ready:{Environment.NewLine}{string.Join(Environment.NewLine, output)}"));

        try
        {
            process.Start();
            Running[process.Id] = process;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var address = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return new ServerProcess(kind, process, output, new Uri(address));
        }
        catch
        {
            Kill(process);
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts a server that is not this executable (a reference peer: <c>dotnet &lt;dll&gt; args</c>) on a free loopback
    /// port given by <c>ASPNETCORE_URLS</c>, and waits (bounded) until <paramref name="readyPath"/> answers 200. It
    /// inherits the environment; it does not watch its standard input, so it is killed when done.
    /// </summary>
    public static async Task<ServerProcess> StartExternalAsync(
        string kind, string dll, IReadOnlyList<string> args, string readyPath, CancellationToken cancellationToken)
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var address = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        start.Environment["ASPNETCORE_URLS"] = address.GetLeftPart(UriPartial.Authority);
        var output = new ConcurrentQueue<string>();
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Remember(output, e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Remember(output, e.Data);
            }
        };

        ServerProcess? server = null;
        try
        {
            process.Start();
            Running[process.Id] = process;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            server = new ServerProcess(kind, process, output, address, external: true);
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"the {kind} server exited before it was ready:{Environment.NewLine}{server.RecentOutput}");
                }

                try
                {
                    using var probe = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    using var response = await server.Http.GetAsync(new Uri(readyPath, UriKind.Relative), probe.Token);
                    if (response.IsSuccessStatusCode)
                    {
                        return server;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    // Not listening yet.
                }

                if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new InvalidOperationException($"the {kind} server was not ready within 60 s:{Environment.NewLine}{server.RecentOutput}");
                }

                await Task.Delay(100, cancellationToken);
            }
        }
        catch
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
            else
            {
                Kill(process);
                Running.TryRemove(process.Id, out _);
                process.Dispose();
            }

            throw;
        }
    }

    public async Task<PublishResult> PublishAsync(int run, long count, double rate, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(Math.Min(700, (count / rate * 2) + 30)));
        var query = string.Create(CultureInfo.InvariantCulture, $"/bench/publish?run={run}&count={count}&rate={rate:R}");
        using var response = await Http.PostAsync(new Uri(query, UriKind.Relative), null, deadline.Token);
        await EnsureOkAsync(response, deadline.Token);
        return (await response.Content.ReadFromJsonAsync<PublishResult>(BenchJson.Options, deadline.Token))!;
    }

    /// <summary><c>POST /v1/jobs</c> on the cpu: the new job's id, or an exception quoting the server's refusal.</summary>
    public async Task<Guid> SubmitJobAsync(string source, IReadOnlyList<string> plugins, CancellationToken cancellationToken)
    {
        using var response = await Http.PostAsJsonAsync("/v1/jobs", new { source, device_requested = "cpu", plugins }, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/jobs answered {(int)response.StatusCode}: {body}");
        }

        using var created = System.Text.Json.JsonDocument.Parse(body);
        return created.RootElement.GetProperty("job_id").GetGuid();
    }

    /// <summary>POSTs to a bench endpoint and reads its JSON answer (bounded by <paramref name="timeout"/>).</summary>
    public async Task<T> PostAsync<T>(string pathAndQuery, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var response = await Http.PostAsync(new Uri(pathAndQuery, UriKind.Relative), null, deadline.Token);
        await EnsureOkAsync(response, deadline.Token);
        return (await response.Content.ReadFromJsonAsync<T>(BenchJson.Options, deadline.Token))!;
    }

    public Task<ServerSnapshot> StatsAsync(CancellationToken cancellationToken) => SnapshotAsync(HttpMethod.Get, "/bench/stats", cancellationToken);

    /// <summary>Forces a full, compacting, decommitting collection in the server, then reports.</summary>
    public Task<ServerSnapshot> CollectAsync(CancellationToken cancellationToken) => SnapshotAsync(HttpMethod.Post, "/bench/gc", cancellationToken);

    /// <summary>Waits (bounded) until the server holds at most <paramref name="connections"/> connections.</summary>
    public async Task<int> WaitForConnectionsAsync(int connections, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var open = (await StatsAsync(cancellationToken)).Connections;
            if (open <= connections || deadline.Elapsed > timeout)
            {
                return open;
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            if (!_external && !_process.HasExited)
            {
                _process.StandardInput.Close();
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(grace.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            // Did not stop in time (or the pipe is gone): killed below.
        }

        Kill(_process);
        Running.TryRemove(_process.Id, out _);
        _process.Dispose();
    }

    /// <summary>Kills every server child still running (Ctrl+C, process exit, fatal errors).</summary>
    public static void KillAll()
    {
        foreach (var process in Running.Values)
        {
            Kill(process);
        }
    }

    public string RecentOutput => string.Join(Environment.NewLine, _output);

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    private async Task<ServerSnapshot> SnapshotAsync(HttpMethod method, string path, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(method, path);
        using var response = await Http.SendAsync(request, deadline.Token);
        await EnsureOkAsync(response, deadline.Token);
        return (await response.Content.ReadFromJsonAsync<ServerSnapshot>(BenchJson.Options, deadline.Token))!;
    }

    private async Task EnsureOkAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException(
                $"{Kind} server answered {(int)response.StatusCode} to {response.RequestMessage?.RequestUri}: {body}{Environment.NewLine}{RecentOutput}");
        }
    }

    private static void Remember(ConcurrentQueue<string> output, string line)
    {
        output.Enqueue(line);
        while (output.Count > 40 && output.TryDequeue(out _))
        {
            // Keep the last lines only.
        }
    }

    /// <summary>
    /// This executable under the product's own runtime settings: <c>dotnet exec --runtimeconfig
    /// CleanRealtime.Api.runtimeconfig.json CleanRealtime.Bench.dll</c> (the build copies the Api's runtimeconfig next to
    /// the bench), so the real server runs with what <c>src/Api/Api.csproj</c> puts there (Server GC, thread-pool
    /// settings), as the product does. Null when that file is missing.
    /// </summary>
    private static ProcessStartInfo? ProductRuntimeCommand()
    {
        var config = Path.Combine(AppContext.BaseDirectory, "CleanRealtime.Api.runtimeconfig.json");
        var entry = Assembly.GetEntryAssembly()?.Location;
        if (!File.Exists(config) || string.IsNullOrEmpty(entry))
        {
            return null;
        }

        var start = new ProcessStartInfo("dotnet");
        foreach (var arg in new[] { "exec", "--runtimeconfig", config, entry })
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    /// <summary>This very executable: the apphost when run by <c>dotnet run</c>, else <c>dotnet &lt;dll&gt;</c>.</summary>
    private static ProcessStartInfo SelfCommand()
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which executable is running");
        var start = new ProcessStartInfo(host);
        if (string.Equals(Path.GetFileNameWithoutExtension(host), "dotnet", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        return start;
    }
}
