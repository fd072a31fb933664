using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using CleanRealtime.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>
/// The real server (the same <see cref="ServerApp"/> as Program) on Kestrel, on a free loopback port, with its own
/// SQLite file and media folder in a temp directory. Use as an xUnit class fixture, or start one per test with
/// <see cref="StartAsync"/> when a test needs its own settings (e.g. a FakeTimeProvider or small limits).
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;
    private WebApplication? _app;

    public ServerFixture()
        : this(null, null)
    {
    }

    private ServerFixture(IDictionary<string, string?>? settings, Action<IServiceCollection>? services, string? root = null)
    {
        Root = root ?? Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));
        MediaRoot = Path.Combine(Root, "media");
        Directory.CreateDirectory(MediaRoot);
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Jobs"] = $"Data Source={Path.Combine(Root, "jobs.db")}",
            ["Media:Root"] = MediaRoot,
            ["Jobs:MaxConcurrentJobs"] = "2",

        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        _services = services;
    }

    /// <summary>The temp folder holding the database and the media root; kept across restarts of the same data.</summary>
    public string Root { get; }

    public string MediaRoot { get; }

    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public IServiceProvider Services => _app!.Services;

    public static async Task<ServerFixture> StartAsync(
        IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, string? root = null)
    {
        var fixture = new ServerFixture(settings, services, root);
        await fixture.InitializeAsync();
        return fixture;
    }

    public async Task InitializeAsync()
    {
        _app = ServerApp.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(_settings);
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            _services?.Invoke(builder.Services);
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Stops the server (as on SIGTERM) but keeps its files, so a new fixture on <see cref="Root"/> is a restart.</summary>
    public async Task StopAsync()
    {
        if (_app is null)
        {
            return;
        }

        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a finishing background task; the temp folder is cleaned by the OS.
        }
    }

    public Uri RealtimeUri(string? query = null) =>
        new UriBuilder(BaseAddress) { Scheme = "ws", Path = "/v1/realtime", Query = query ?? string.Empty }.Uri;

    /// <summary>Submits a job and returns its id (asserts 202).</summary>
    public async Task<Guid> SubmitJobAsync(string source, IEnumerable<string> plugins, string device = "cpu")
    {
        using var response = await Http.PostAsJsonAsync("/v1/jobs", new { source, device_requested = device, plugins = plugins.ToArray() });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted, $"POST /v1/jobs answered {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("job_id").GetGuid();
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Polls the extended job until its status is one of <paramref name="statuses"/>.</summary>
    public async Task<JsonElement> WaitForStatusAsync(Guid jobId, TimeSpan timeout, params string[] statuses)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            var job = await GetJsonAsync($"/v1/jobs/{jobId}/extended");
            if (statuses.Contains(job.GetProperty("status").GetString()))
            {
                return job;
            }

            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"Job {jobId} is still {job.GetProperty("status").GetString()} after {timeout}; expected {string.Join("/", statuses)}.");
            }

            await Task.Delay(50);
        }
    }

    public async Task<RealtimeClient> ConnectAsync(string? query = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await socket.ConnectAsync(RealtimeUri(query), CancellationToken.None);
        return new RealtimeClient(socket);
    }

    /// <summary>Connects and reads the welcome (metadata per plugin, then a ping).</summary>
    public async Task<(RealtimeClient Client, List<ReceivedMessage> Welcome)> ConnectWelcomedAsync(string? query = null)
    {
        var client = await ConnectAsync(query);
        return (client, await client.ReceiveWelcomeAsync());
    }

    public Task<SseClient> ConnectSseAsync(string? query = null, string? lastEventId = null) => SseClient.ConnectAsync(BaseAddress, query, lastEventId);

    /// <summary>A paced or unpaced generated scene; small frames by default so tests stay fast.</summary>
    public static string Synthetic(int frames, int fps = 0, int width = 320, int height = 240, int seed = 1) =>
        $"synthetic:pitch?frames={frames}&fps={fps}&width={width}&height={height}&seed={seed}";

    /// <summary>Submits a job and waits until it has finished (any final status).</summary>
    public async Task<(Guid Id, JsonElement Job)> RunJobAsync(string source, IEnumerable<string> plugins, string device = "cpu")
    {
        var id = await SubmitJobAsync(source, plugins, device);
        return (id, await WaitForStatusAsync(id, TimeSpan.FromSeconds(60), "completed", "failed", "cancelled"));
    }

    public Task<JsonElement> GetStatsAsync() => GetJsonAsync("/v1/realtime/stats");

    /// <summary>The value of one series of <c>GET /metrics</c>, e.g. <c>cleanrealtime_messages_published_total</c>; fails when it is absent.</summary>
    public async Task<double> MetricAsync(string series)
    {
        var text = await Http.GetStringAsync("/metrics");
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal))
                   ?? throw new Xunit.Sdk.XunitException($"/metrics has no series {series}:\n{text}");
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The open connections of one session, as <c>GET /v1/realtime/stats</c> lists them.</summary>
    public async Task<List<JsonElement>> SessionConnectionsAsync(Guid sessionId)
    {
        var stats = await GetJsonAsync($"/v1/realtime/stats?session_id={sessionId}");
        return [.. stats.GetProperty("connections").EnumerateArray()];
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="because"/> after the timeout.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string because)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout}: {because}");
            }

            await Task.Delay(25);
        }
    }

    /// <summary>Writes a file into the media root (for file sources) and returns its source name.</summary>
    public string WriteMedia(string name, byte[] content)
    {
        File.WriteAllBytes(Path.Combine(MediaRoot, name), content);
        return name;
    }
}
