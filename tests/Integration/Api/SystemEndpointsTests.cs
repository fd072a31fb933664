using System.Net;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary>Devices, plugins, stats, health, OpenAPI and unknown paths (API.md §2.4, §3.1).</summary>
public sealed class SystemEndpointsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Devices_ListsCpuAndGpu_CpuDefaultAndAvailable()
    {
        var devices = await server.GetJsonAsync("/v1/devices");

        Assert.Equal("cpu", devices.GetProperty("default").GetString());
        var list = devices.GetProperty("devices").EnumerateArray().ToList();
        Assert.Equal(["cpu", "gpu"], list.Select(d => d.GetProperty("name").GetString()));
        Assert.True(list[0].GetProperty("available").GetBoolean());
        Assert.Equal(JsonValueKind.False, list[1].GetProperty("available").ValueKind);
        Assert.All(list, d => Assert.Equal(["available", "name"], d.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task Plugins_ListsEveryBuiltInPluginWithMetadata()
    {
        var plugins = (await server.GetJsonAsync("/v1/plugins")).EnumerateArray().ToList();

        Assert.Equal(
            ["ball_detection", "frame_quality", "motion_detection", "pitch_detection", "player_detection"],
            plugins.Select(p => p.GetProperty("plugin").GetString()).Order(StringComparer.Ordinal));
        foreach (var plugin in plugins)
        {
            var metadata = plugin.GetProperty("metadata");
            Assert.False(string.IsNullOrWhiteSpace(metadata.GetProperty("version").GetString()));
            Assert.False(string.IsNullOrWhiteSpace(metadata.GetProperty("model").GetString()));
            Assert.Equal(JsonValueKind.Array, metadata.GetProperty("input_shape").ValueKind);
            Assert.False(string.IsNullOrWhiteSpace(metadata.GetProperty("output_format").GetString()));
            Assert.InRange(metadata.GetProperty("confidence_default").GetDouble(), 0, 1);
            Assert.NotEmpty(metadata.GetProperty("capabilities").EnumerateArray());
        }
    }

    [Fact]
    public async Task Plugins_MatchTheRealtimeMetadataMessages()
    {
        var plugins = (await server.GetJsonAsync("/v1/plugins")).EnumerateArray()
            .ToDictionary(p => p.GetProperty("plugin").GetString()!, p => p.GetProperty("metadata").GetRawText());
        var (client, welcome) = await server.ConnectWelcomedAsync();
        await using var owned = client;

        var metadata = welcome.Where(m => m.Type == "metadata").ToDictionary(m => m.Str("plugin")!, m => m.Payload.GetProperty("metadata").GetRawText());

        Assert.Equal(plugins.Keys.Order(StringComparer.Ordinal), metadata.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, json) in plugins)
        {
            Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(json).RootElement, JsonDocument.Parse(metadata[name]).RootElement), name);
        }
    }

    [Fact]
    public async Task RealtimeStats_ListsOpenConnectionsWithCounters()
    {
        var session = Guid.NewGuid();
        var (client, welcome) = await server.ConnectWelcomedAsync($"session_id={session}");
        await using var owned = client;

        // The writer counts a message once its send has returned, which may be just after the client has it.
        await ServerFixture.WaitUntilAsync(
            async () => Assert.Single(await server.SessionConnectionsAsync(session)).GetProperty("sent").GetInt64() == welcome.Count,
            TimeSpan.FromSeconds(5), "the welcome messages are not counted as sent");
        var stats = await server.GetStatsAsync();
        var connection = Assert.Single(await server.SessionConnectionsAsync(session));

        Assert.True(stats.GetProperty("open").GetInt32() >= 1);
        Assert.True(stats.TryGetProperty("sent", out _) && stats.TryGetProperty("dropped", out _));
        Assert.Equal("websocket", connection.GetProperty("transport").GetString());
        Assert.Equal(JsonValueKind.Null, connection.GetProperty("job_id").ValueKind);
        Assert.Equal(welcome.Count, connection.GetProperty("sent").GetInt64());
        Assert.Equal(0, connection.GetProperty("dropped").GetInt64());
        Assert.Equal(0, connection.GetProperty("queue_depth").GetInt32());
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_Returns200(string path)
    {
        using var response = await server.Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task OpenApi_DocumentIsServedWithEveryEndpoint()
    {
        var document = await server.GetJsonAsync("/openapi/v1.json");

        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var path in new[]
                 {
                     "/v1/jobs", "/v1/jobs/{jobId}", "/v1/jobs/{jobId}/extended", "/v1/jobs/{jobId}/cancel", "/v1/devices", "/v1/plugins",
                     "/v1/realtime/stats", "/v1/realtime",
                 })
        {
            Assert.True(paths.Contains(path) || paths.Contains(path + "/"), $"{path} is not in the OpenAPI document: {string.Join(", ", paths)}");
        }
    }

    [Theory]
    [InlineData("DELETE", "/v1/jobs/00000000-0000-0000-0000-000000000000")]
    [InlineData("PUT", "/v1/jobs")]
    [InlineData("POST", "/v1/devices")]
    [InlineData("GET", "/v1/jobs/00000000-0000-0000-0000-000000000000/cancel")]
    public async Task WrongMethod_Returns4xxProblemNever500(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);

        using var response = await server.Http.SendAsync(request);

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed });
        await JobInputValidationTests.AssertProblemAsync(response, response.StatusCode);
    }

    [Theory]
    [InlineData("/v1/nope")]
    [InlineData("/v1/jobs/not-a-guid")]
    [InlineData("/v1/jobs/00000000-0000-0000-0000-000000000000/nope")]
    [InlineData("/v1/")]
    public async Task UnknownV1Path_Returns404Problem(string path)
    {
        using var response = await server.Http.GetAsync(path);

        await JobInputValidationTests.AssertProblemAsync(response, HttpStatusCode.NotFound);
    }
}
