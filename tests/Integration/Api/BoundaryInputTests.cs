using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary>Inputs at and just past a bound, as a black-box probe sent them to the real server: each gets the answer its bound promises.</summary>
public sealed class BoundaryInputTests : IAsyncLifetime
{
    private const long UploadLimit = 256 * 1024;
    private ServerFixture _server = null!;

    public async Task InitializeAsync() =>
        _server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Media:MaxUploadBytes"] = UploadLimit.ToString(CultureInfo.InvariantCulture) });

    public Task DisposeAsync() => _server.DisposeAsync();

    /// <summary>
    /// A chunked upload has no length to refuse up front: the server reads it and must still answer 413 however far past
    /// the limit it ends, also past the multipart envelope's allowance where Kestrel's own body limit cuts it off.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(40 * 1024)]
    [InlineData(64 * 1024)]
    [InlineData((64 * 1024) + 1)]
    [InlineData(70 * 1024)]
    [InlineData(100 * 1024)]
    [InlineData(1024 * 1024)]
    public async Task Upload_ChunkedBodyAnyAmountOverTheLimit_Is413NotMalformed(int over)
    {
        using var form = new MultipartFormDataContent();
        var file = new StreamContent(new MemoryStream(new byte[UploadLimit + over]));
        file.Headers.ContentType = new MediaTypeHeaderValue("video/x-msvideo");
        form.Add(file, "file", "big.avi");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/media") { Content = form };
        request.Headers.TransferEncodingChunked = true;

        using var response = await _server.Http.SendAsync(request);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{UploadLimit} + {over} bytes chunked: {(int)response.StatusCode} {body}");
        Assert.Contains("Media:MaxUploadBytes", body, StringComparison.Ordinal);
        Assert.Empty(TestVideos.FilesUnder(Path.Combine(_server.MediaRoot, "uploads")));
    }

    [Fact]
    public async Task FramePicture_UnknownFrameIdOf8100Characters_404EchoesAtMost1024OfThem()
    {
        var (id, _) = await _server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);
        var frameId = "frame-" + new string('7', 8094);

        using var response = await _server.Http.GetAsync($"/v1/jobs/{id}/frames/{frameId}/image");

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString()!;
        Assert.DoesNotContain(new string('7', 1025), detail, StringComparison.Ordinal);
        Assert.Contains("frame-" + new string('7', 1018) + "…", detail, StringComparison.Ordinal);
        Assert.Contains("(8100 characters)", detail, StringComparison.Ordinal);
        Assert.True(body.Length < 2048, $"the 404 is {body.Length} characters long");
    }

    [Fact]
    public async Task FramePicture_UnknownFrameIdOf1024Characters_404EchoesItWhole()
    {
        var (id, _) = await _server.RunJobAsync(ServerFixture.Synthetic(2, width: 64, height: 64), ["frame_quality"]);
        var frameId = "frame-" + new string('x', 1018);

        using var response = await _server.Http.GetAsync($"/v1/jobs/{id}/frames/{frameId}/image");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var detail = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()!;
        Assert.Contains($"'{frameId}'", detail, StringComparison.Ordinal);
    }
}
