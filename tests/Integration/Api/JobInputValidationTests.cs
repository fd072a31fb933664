using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary>
/// <c>POST /v1/jobs</c> with what a client can get wrong (API.md §2.1): every answer is a 4xx problem+json, never a 500,
/// and a 400 names the offending field (snake_case) in <c>errors</c>.
/// </summary>
public sealed class JobInputValidationTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Create_MissingSource_Returns400WithSourceError()
    {
        var errors = await PostExpecting400Async(new { plugins = new[] { "motion_detection" } });

        Assert.Equal(["source"], errors.Keys);
    }

    [Theory]
    [InlineData("../x.mp4")]
    [InlineData("clips/../../x.mp4")]
    [InlineData("/etc/passwd")]
    [InlineData("~/x.mp4")]
    [InlineData("http://example.com/x.mp4")]
    [InlineData("file:///etc/passwd")]
    [InlineData("clips\\x.mp4")]
    [InlineData("missing.mp4")]
    [InlineData("synthetic:moon")]
    [InlineData("synthetic:pitch?frames=0")]
    [InlineData("synthetic:pitch?frames=10\0")]
    [InlineData("synthetic:pitch?frames=10%00")]
    public async Task Create_BadSource_Returns400WithSourceError(string source)
    {
        var errors = await PostExpecting400Async(new { source, plugins = new[] { "motion_detection" } });

        Assert.Equal(["source"], errors.Keys);
        Assert.NotEmpty(errors["source"]);
    }

    [Fact]
    public async Task Create_FileThroughDirectoryLinkOutOfTheMediaRoot_Returns400SameForExistingAndMissing()
    {
        // media/outdir -> <fixture>/outside, which holds secret.bmp: before issue 7 that file was accepted and analysed.
        var outside = Directory.CreateDirectory(Path.Combine(server.Root, "outside-" + Guid.NewGuid().ToString("N"))).FullName;
        await File.WriteAllBytesAsync(Path.Combine(outside, "secret.bmp"), TestMedia.BlackBmp());
        var link = "outdir-" + Guid.NewGuid().ToString("N");
        Directory.CreateSymbolicLink(Path.Combine(server.MediaRoot, link), outside);

        var existing = await PostSourceExpecting400Async($"{link}/secret.bmp");
        var missing = await PostSourceExpecting400Async($"{link}/absent.bmp");

        Assert.Equal(
            existing.Body.Replace("secret.bmp", "<file>", StringComparison.Ordinal),
            missing.Body.Replace("absent.bmp", "<file>", StringComparison.Ordinal));
        Assert.Equal($"source '{link}/secret.bmp' was not found under the media root", existing.SourceError);
        Assert.DoesNotContain(outside, existing.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_UnknownPlugins_Returns400ListingThem()
    {
        var errors = await PostExpecting400Async(
            new { source = ServerFixture.Synthetic(1), plugins = new[] { "teleport", "motion_detection", "mind_reader" } });

        var message = Assert.Single(errors["plugins"]);
        Assert.Contains("teleport", message, StringComparison.Ordinal);
        Assert.Contains("mind_reader", message, StringComparison.Ordinal);
        Assert.DoesNotContain("motion_detection", message.Split("Registered")[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    public async Task Create_PluginCountOutsideOneToSixteen_Returns400WithPluginsError(int count)
    {
        var plugins = Enumerable.Range(0, count).Select(i => $"plugin_{i}").ToArray();

        var errors = await PostExpecting400Async(new { source = ServerFixture.Synthetic(1), plugins });

        Assert.Contains("1 and 16", Assert.Single(errors["plugins"]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_MissingOrRepeatedPlugins_Returns400WithPluginsError()
    {
        Assert.Contains("plugins", (await PostExpecting400Async(new { source = ServerFixture.Synthetic(1) })).Keys);
        Assert.Contains("plugins", (await PostExpecting400Async(
            new { source = ServerFixture.Synthetic(1), plugins = new[] { "motion_detection", "motion_detection" } })).Keys);
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("")]
    public async Task Create_BadDevice_Returns400WithDeviceError(string device)
    {
        var errors = await PostExpecting400Async(
            new { source = ServerFixture.Synthetic(1), device_requested = device, plugins = new[] { "motion_detection" } });

        Assert.Equal(["device_requested"], errors.Keys);
    }

    [Fact]
    public async Task Create_SeveralBadFields_Returns400NamingEach()
    {
        var errors = await PostExpecting400Async(new { source = "../x.mp4", device_requested = "tpu", plugins = Array.Empty<string>() });

        Assert.Equal(["device_requested", "plugins", "source"], errors.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("{\"source\": ")]
    [InlineData("{\"source\": \"synthetic:pitch\", \"plugins\": [\"motion_detection\"],}")]
    [InlineData("not json at all")]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[1, 2]")]
    public async Task Create_MalformedJson_Returns400Problem(string body)
    {
        using var response = await server.Http.PostAsync("/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("{\"source\": \"synthetic:pitch\", \"plugins\": \"motion_detection\"}", "plugins")]
    [InlineData("{\"source\": 42, \"plugins\": [\"motion_detection\"]}", "source")]
    [InlineData("{\"source\": \"synthetic:pitch\", \"plugins\": [1, 2]}", "plugins")]
    [InlineData("{\"source\": \"synthetic:pitch\", \"device_requested\": true, \"plugins\": [\"motion_detection\"]}", "device_requested")]
    [InlineData("{\"source\": \"synthetic:pitch\", \"plugins\": [null]}", "plugins")]
    [InlineData("{\"source\": \"synthetic:pitch\", \"plugins\": [\"\"]}", "plugins")]
    [InlineData("{\"source\": null, \"plugins\": [\"motion_detection\"]}", "source")]
    [InlineData("{\"source\": \"synthetic:pitch\", \"plugins\": {\"a\": 1}}", "plugins")]
    public async Task Create_WrongJsonTypes_Returns400NamingField(string body, string field)
    {
        using var response = await server.Http.PostAsync("/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Create_BodyOver1MiB_Returns413()
    {
        var body = $$"""{"source":"synthetic:pitch","plugins":["motion_detection"],"pad":"{{new string('x', 1024 * 1024)}}"}""";

        using var response = await server.Http.PostAsync("/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Create_ChunkedBodyOver1MiB_Returns413()
    {
        var body = Encoding.UTF8.GetBytes($$"""{"source":"synthetic:pitch","plugins":["motion_detection"],"pad":"{{new string('x', 1024 * 1024)}}"}""");
        using var content = new StreamContent(new UnknownLengthStream(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await server.Http.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task Create_WrongContentType_Returns415(string mediaType)
    {
        var body = $$"""{"source":"{{ServerFixture.Synthetic(1)}}","plugins":["motion_detection"]}""";

        using var response = await server.Http.PostAsync("/v1/jobs", new StringContent(body, Encoding.UTF8, mediaType));

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Create_Valid_Returns202WithLocationAndLegacyBody()
    {
        using var response = await server.Http.PostAsJsonAsync(
            "/v1/jobs", new { source = ServerFixture.Synthetic(1), plugins = new[] { "motion_detection" } });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("job_id").GetGuid();
        Assert.Equal($"/v1/jobs/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(["device_requested", "device_used", "fallback", "frames", "job_id"], body.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("cpu", body.GetProperty("device_requested").GetString());
        Assert.Equal(0, body.GetProperty("frames").GetArrayLength());
        await server.WaitForStatusAsync(id, TimeSpan.FromSeconds(30), "completed");
    }

    /// <summary>The 400 problem for <paramref name="source"/> as JSON text without its per-request trace id, and its source error.</summary>
    private async Task<(string Body, string? SourceError)> PostSourceExpecting400Async(string source)
    {
        using var response = await server.Http.PostAsJsonAsync("/v1/jobs", new { source, plugins = new[] { "motion_detection" } });
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        var fields = problem.EnumerateObject().Where(p => p.Name != "trace_id").ToDictionary(p => p.Name, p => p.Value);
        var sourceErrors = problem.GetProperty("errors").GetProperty("source");
        return (JsonSerializer.Serialize(fields), Assert.Single(sourceErrors.EnumerateArray()).GetString());
    }

    private async Task<Dictionary<string, string[]>> PostExpecting400Async(object body)
    {
        using var response = await server.Http.PostAsJsonAsync("/v1/jobs", body);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.TryGetProperty("errors", out var errors), $"a 400 must carry errors: {problem}");
        return errors.EnumerateObject().ToDictionary(e => e.Name, e => e.Value.EnumerateArray().Select(v => v.GetString()!).ToArray());
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        return problem;
    }

    /// <summary>A stream that will not tell its length, so the body goes out chunked with no Content-Length.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
