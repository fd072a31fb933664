using System.Net;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Browser;

/// <summary>The dashboard's files are served at <c>/</c> without shadowing the API; <c>Cors:AllowedOrigins</c> (API.md §6).</summary>
public sealed class StaticFilesAndCorsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/index.html", "text/html")]
    [InlineData("/js/app.js", "text/javascript")]
    [InlineData("/app.css", "text/css")]
    public async Task Dashboard_StaticFile_IsServed(string path, string mediaType)
    {
        using var response = await server.Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("/v1/plugins", HttpStatusCode.OK)]
    [InlineData("/v1/nothing-here", HttpStatusCode.NotFound)]
    [InlineData("/health/live", HttpStatusCode.OK)]
    [InlineData("/openapi/v1.json", HttpStatusCode.OK)]
    public async Task Dashboard_ApiPaths_AreNotShadowed(string path, HttpStatusCode expected)
    {
        using var response = await server.Http.GetAsync(path);

        Assert.Equal(expected, response.StatusCode);
        Assert.NotEqual("text/html", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Cors_AllowedOriginWithApiKeys_PreflightAnsweredAndResponsesCarryTheOrigin()
    {
        var cors = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Cors:AllowedOrigins"] = "http://dash.example",
            ["Auth:ApiKeys"] = "k1",
        });
        try
        {
            using var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/jobs");
            preflight.Headers.Add("Origin", "http://dash.example");
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            preflight.Headers.Add("Access-Control-Request-Headers", "x-api-key,content-type");
            using var answer = await cors.Http.SendAsync(preflight);

            using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/plugins");
            get.Headers.Add("Origin", "http://dash.example");
            get.Headers.Add("X-API-Key", "k1");
            using var allowed = await cors.Http.SendAsync(get);

            using var other = new HttpRequestMessage(HttpMethod.Get, "/v1/plugins");
            other.Headers.Add("Origin", "http://evil.example");
            other.Headers.Add("X-API-Key", "k1");
            using var refused = await cors.Http.SendAsync(other);

            Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
            Assert.Equal("http://dash.example", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Equal("http://dash.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        }
        finally
        {
            await cors.DisposeAsync();
        }
    }

    [Fact]
    public async Task Cors_NotConfigured_NoCrossOriginHeaders()
    {
        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/plugins");
        get.Headers.Add("Origin", "http://dash.example");

        using var response = await server.Http.SendAsync(get);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
