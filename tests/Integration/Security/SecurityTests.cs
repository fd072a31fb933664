using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Security;

public sealed class ApiKeyTests : IAsyncLifetime
{
    private const string Key = "test-key-123";
    private ServerFixture _server = null!;

    public async Task InitializeAsync() =>
        _server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Auth:ApiKeys:0"] = Key, ["Auth:ApiKeys:1"] = "other" });

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Rest_WithoutKey_Is401Problem()
    {
        using var response = await _server.Http.GetAsync("/v1/plugins");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("X-API-Key", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rest_WithWrongKey_Is401()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/plugins") { Headers = { { "X-API-Key", Key + "x" } } };
        using var response = await _server.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Rest_WithKeyHeader_IsServed()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs")
        {
            Headers = { { "X-API-Key", Key } },
            Content = JsonContent.Create(new { source = "synthetic:pitch?frames=1&width=64&height=64", plugins = new[] { "frame_quality" } }),
        };
        using var response = await _server.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task Rest_QueryKey_IsNotAcceptedOutsideRealtime()
    {
        using var response = await _server.Http.GetAsync($"/v1/plugins?api_key={Key}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task HealthAndOpenApi_StayOpen()
    {
        using var live = await _server.Http.GetAsync("/health/live");
        using var openapi = await _server.Http.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, openapi.StatusCode);
    }

    [Fact]
    public async Task Realtime_WithKeyInQuery_IsAccepted()
    {
        await using var client = await _server.ConnectAsync($"api_key={Key}");

        var first = await client.ReceiveAsync();

        Assert.Equal("metadata", first?.Type);
    }

    [Fact]
    public async Task Realtime_WithKeyHeader_IsAccepted()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("X-API-Key", Key);
        await socket.ConnectAsync(_server.RealtimeUri(), CancellationToken.None);
        await using var client = new RealtimeClient(socket);

        Assert.Equal("metadata", (await client.ReceiveAsync())?.Type);
    }

    [Fact]
    public async Task Realtime_WithoutKey_IsRefusedWith401BeforeUpgrade()
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;

        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(_server.RealtimeUri(), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }
}

public sealed class OriginAndRateLimitTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public async Task InitializeAsync() =>
        _server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Realtime:AllowedOrigins"] = "https://dashboard.example, https://ops.example",
            ["RateLimits:CreateJobPerMinute"] = "2",
        });

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Realtime_FromForeignOrigin_Is403()
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("Origin", "https://evil.example");

        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(_server.RealtimeUri(), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
    }

    [Fact]
    public async Task Realtime_FromAllowedOrigin_IsAccepted()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", "https://ops.example");
        await socket.ConnectAsync(_server.RealtimeUri(), CancellationToken.None);
        await using var client = new RealtimeClient(socket);

        Assert.Equal("metadata", (await client.ReceiveAsync())?.Type);
    }

    [Fact]
    public async Task Realtime_FromTheServersOwnOrigin_IsAcceptedForTheDashboard()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", $"http://{_server.BaseAddress.Authority}");
        await socket.ConnectAsync(_server.RealtimeUri(), CancellationToken.None);
        await using var client = new RealtimeClient(socket);

        Assert.Equal("metadata", (await client.ReceiveAsync())?.Type);
    }

    [Fact]
    public async Task CreateJob_OverTheLimit_Is429WithRetryAfter()
    {
        var body = new { source = "synthetic:pitch?frames=1&width=64&height=64", plugins = new[] { "frame_quality" } };
        var codes = new List<HttpStatusCode>();
        HttpResponseMessage? last = null;
        for (var i = 0; i < 3; i++)
        {
            last?.Dispose();
            last = await _server.Http.PostAsJsonAsync("/v1/jobs", body);
            codes.Add(last.StatusCode);
        }

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests], codes);
        Assert.Equal("application/problem+json", last!.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(last.Headers.RetryAfter);
        last.Dispose();

        using var reads = await _server.Http.GetAsync("/v1/jobs");
        Assert.Equal(HttpStatusCode.OK, reads.StatusCode);
    }
}
