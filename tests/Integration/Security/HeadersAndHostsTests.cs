using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Security;

/// <summary>
/// Response headers that keep the dashboard from being framed or fed foreign scripts, on every kind of response of the
/// real server (issue 16: no CSP, nosniff or X-Frame-Options was sent; the Cancel and Delete buttons could be clickjacked).
/// </summary>
public sealed class SecurityHeadersTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Theory]
    [InlineData("GET", "/")]
    [InlineData("GET", "/index.html")]
    [InlineData("GET", "/js/app.js")]
    [InlineData("GET", "/app.css")]
    [InlineData("GET", "/v1/plugins")]
    [InlineData("GET", "/v1/jobs/00000000-0000-0000-0000-000000000000")]
    [InlineData("GET", "/v1/nothing-here")]
    [InlineData("POST", "/v1/jobs")]
    [InlineData("GET", "/health/live")]
    [InlineData("GET", "/openapi/v1.json")]
    [InlineData("GET", "/metrics")]
    public async Task EveryResponse_HasACspOfTheDashboardsOwnFilesNosniffAndNoFraming(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            // A body the JSON reader throws on: the answer comes from the exception handler, which clears the headers.
            request.Content = new StringContent("{not json", Encoding.UTF8, "application/json");
        }

        using var response = await server.Http.SendAsync(request);

        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        var directives = csp.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .ToDictionary(d => d.Split(' ')[0], d => d.Split(' ')[1..]);
        Assert.Equal(["'self'"], directives["script-src"]);
        Assert.Equal(["'self'"], directives["style-src"]);
        Assert.Equal(["'self'"], directives["default-src"]);
        Assert.Equal(["'none'"], directives["frame-ancestors"]);
        Assert.Equal(["'none'"], directives["object-src"]);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
    }

    [Fact]
    public async Task DashboardPage_HasNoInlineScriptStyleOrHandler()
    {
        var html = await server.Http.GetStringAsync("/");

        Assert.DoesNotMatch("<script(?![^>]*\\bsrc=)[^>]*>", html);
        Assert.DoesNotContain("<style", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("\\sstyle=", html);
        Assert.DoesNotMatch("\\son[a-z]+=", html);
        Assert.DoesNotContain("javascript:", html, StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>
/// The realtime channel's origin check (<c>Realtime:AllowedOrigins</c>) against DNS rebinding: a page of another site
/// whose name now points at this server sends its own name as both Host and Origin, which must not pass as the server's
/// own origin. The server's own origin is a page served under an IP address, <c>localhost</c> or an <c>AllowedHosts</c> name.
/// </summary>
public sealed class OriginCheckHostTests : IAsyncLifetime
{
    private ServerFixture _server = null!;

    private int Port => _server.BaseAddress.Port;

    public async Task InitializeAsync() =>
        _server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Realtime:AllowedOrigins"] = "https://dashboard.example" });

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Sse_DnsRebinding_HostAndOriginOfAnotherName_Is403()
    {
        Assert.Equal(HttpStatusCode.Forbidden, await OpenSseAsync(_server, $"evil.example:{Port}", $"http://evil.example:{Port}"));
    }

    [Fact]
    public async Task WebSocket_DnsRebinding_HostAndOriginOfAnotherName_Is403()
    {
        Assert.Equal("403", await UpgradeStatusAsync(_server, $"evil.example:{Port}", $"http://evil.example:{Port}"));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task Realtime_OwnOriginUnderAnAddressOrLocalhost_IsAccepted(string host)
    {
        Assert.Equal(HttpStatusCode.OK, await OpenSseAsync(_server, $"{host}:{Port}", $"http://{host}:{Port}"));
        Assert.Equal("101", await UpgradeStatusAsync(_server, $"{host}:{Port}", $"http://{host}:{Port}"));
    }

    [Fact]
    public async Task Realtime_PageOfAnotherPortOnTheSameAddress_Is403()
    {
        Assert.Equal(HttpStatusCode.Forbidden, await OpenSseAsync(_server, $"127.0.0.1:{Port}", $"http://127.0.0.1:{Port + 1}"));
    }

    [Fact]
    public async Task Realtime_ListedOriginUnderAnyHost_IsAccepted()
    {
        Assert.Equal(HttpStatusCode.OK, await OpenSseAsync(_server, $"evil.example:{Port}", "https://dashboard.example"));
    }

    [Fact]
    public async Task AllowedHosts_Configured_OwnOriginUnderThatNameIsAcceptedAndOtherHostsAre400()
    {
        var named = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Realtime:AllowedOrigins"] = "https://dashboard.example",
            ["AllowedHosts"] = "dash.example;*.ops.example;127.0.0.1",
        });
        try
        {
            var port = named.BaseAddress.Port;
            Assert.Equal(HttpStatusCode.OK, await OpenSseAsync(named, $"dash.example:{port}", $"http://dash.example:{port}"));
            Assert.Equal(HttpStatusCode.OK, await OpenSseAsync(named, $"eu.ops.example:{port}", $"http://eu.ops.example:{port}"));
            Assert.Equal("101", await UpgradeStatusAsync(named, $"dash.example:{port}", $"http://dash.example:{port}"));

            // Another name is refused before any endpoint runs (the host filter), the API as much as the realtime channel.
            Assert.Equal(HttpStatusCode.BadRequest, await OpenSseAsync(named, $"evil.example:{port}", $"http://evil.example:{port}"));
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/plugins");
            request.Headers.Host = $"ops.example:{port}";
            using var response = await named.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var own = await named.Http.GetAsync("/v1/plugins");
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }
        finally
        {
            await named.DisposeAsync();
        }
    }

    /// <summary>Opens the event stream with the given Host and Origin; returns the status (the stream is dropped at once).</summary>
    private static async Task<HttpStatusCode> OpenSseAsync(ServerFixture server, string host, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/realtime");
        request.Headers.Host = host;
        request.Headers.Add("Origin", origin);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return response.StatusCode;
    }

    /// <summary>A WebSocket handshake with the given Host and Origin, by hand (a browser's, as a rebound page sends it); the status code.</summary>
    private static async Task<string> UpgradeStatusAsync(ServerFixture server, string host, string origin)
    {
        using var tcp = new TcpClient();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, deadline.Token);
        var stream = tcp.GetStream();
        var handshake = $"GET /v1/realtime HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(handshake), deadline.Token);
        var buffer = new byte[512];
        var read = 0;
        while (read < 12)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), deadline.Token);
            Assert.True(n > 0, "the server closed the connection before answering the handshake");
            read += n;
        }

        var statusLine = Encoding.ASCII.GetString(buffer, 0, read);
        Assert.StartsWith("HTTP/1.1 ", statusLine, StringComparison.Ordinal);
        return statusLine.Substring(9, 3);
    }
}
