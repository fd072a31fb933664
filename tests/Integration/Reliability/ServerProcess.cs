using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CleanRealtime.IntegrationTests.Reliability;

/// <summary>The real server as its own OS process (the built CleanRealtime.Api next to the tests), so it can be killed.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private ServerProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    /// <summary>The process's console output so far (stdout and stderr), line by line; the last 10,000 lines are kept.</summary>
    public IReadOnlyList<string> Output => [.. _output];

    /// <summary>The server's resident memory now and its peak so far (Linux <c>/proc/&lt;pid&gt;/status</c>: VmRSS, VmHWM), in bytes.</summary>
    public (long Resident, long Peak) Memory()
    {
        long Field(string[] lines, string name) =>
            long.Parse(lines.Single(l => l.StartsWith(name, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
                System.Globalization.CultureInfo.InvariantCulture) * 1024;
        var status = File.ReadAllLines($"/proc/{_process.Id}/status");
        return (Field(status, "VmRSS:"), Field(status, "VmHWM:"));
    }

    public static async Task<ServerProcess> StartAsync(string root, params string[] settings)
    {
        var port = FreePort();
        var api = Path.Combine(AppContext.BaseDirectory, "CleanRealtime.Api.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        foreach (var argument in new[]
                 {
                     api, $"--Urls=http://127.0.0.1:{port}", $"--ConnectionStrings:Jobs=Data Source={Path.Combine(root, "jobs.db")}",
                     $"--Media:Root={root}", "--Logging:LogLevel:Default=Warning",
                 }.Concat(settings))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server process");
        var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, line) => server.Keep(line.Data);
        process.ErrorDataReceived += (_, line) => server.Keep(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await server.WaitReadyAsync();
        return server;
    }

    /// <summary>SIGKILL: no shutdown hooks run, exactly like a crash or an OOM kill.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        Http.Dispose();
        _process.Dispose();
        await Task.CompletedTask;
    }

    private async Task WaitReadyAsync()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the server process exited with {_process.ExitCode}");
            }

            try
            {
                using var ready = await Http.GetAsync("/health/ready");
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the server process did not become ready in 60 s");
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (_output.Count > 10_000)
        {
            _output.TryDequeue(out _);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
