using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Media;

/// <summary><c>/v1/media</c> (API.md §2.5): uploads checked with OpenCV, nothing left behind on any failure, listing, deletion.</summary>
public sealed class MediaEndpointsTests : IAsyncLifetime
{
    private const long SmallLimit = 256 * 1024;
    private ServerFixture _server = null!;

    private string Uploads => Path.Combine(_server.MediaRoot, "uploads");

    public async Task InitializeAsync() =>
        _server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Media:MaxUploadBytes"] = SmallLimit.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Upload_SmallAvi_Returns201WithLocationAndMetadata()
    {
        var video = TestVideos.PitchAvi(frames: 6, width: 160, height: 120);

        using var response = await UploadAsync(video, "clip.avi");

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        using var json = JsonDocument.Parse(body);
        var media = json.RootElement;
        var name = media.GetProperty("name").GetString()!;
        Assert.Matches("^uploads/[0-9a-f]{32}\\.avi$", name);
        Assert.Equal($"/v1/media/{name}", response.Headers.Location!.OriginalString);
        Assert.Equal("video", media.GetProperty("kind").GetString());
        Assert.Equal(video.Length, media.GetProperty("size_bytes").GetInt64());
        Assert.Equal(6, media.GetProperty("frames").GetInt32());
        Assert.Equal(10, media.GetProperty("fps").GetDouble(), 3);
        Assert.Equal(160, media.GetProperty("width").GetInt32());
        Assert.Equal(120, media.GetProperty("height").GetInt32());
        Assert.True(media.GetProperty("created_at").GetDateTime() > DateTime.UtcNow.AddMinutes(-1));
        Assert.Equal([Path.Combine(_server.MediaRoot, name)], TestVideos.FilesUnder(Uploads));

        var again = await _server.GetJsonAsync($"/v1/media/{name}");
        Assert.Equal(name, again.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Upload_ImageThenJob_RunsOnTheUploadedName()
    {
        using var response = await UploadAsync(TestMedia.SolidBmp(64, 48, 0, 200, 0), "green.bmp");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("image", json.RootElement.GetProperty("kind").GetString());
        Assert.Equal(1, json.RootElement.GetProperty("frames").GetInt32());

        var (_, job) = await _server.RunJobAsync(json.RootElement.GetProperty("name").GetString()!, ["frame_quality"]);

        Assert.Equal("completed", job.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Upload_WrongContentType_Returns415()
    {
        using var content = new ByteArrayContent(TestVideos.PitchAvi(frames: 2, width: 64, height: 64));
        content.Headers.ContentType = new MediaTypeHeaderValue("video/x-msvideo");

        using var response = await _server.Http.PostAsync("/v1/media", content);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Fact]
    public async Task Upload_MissingFilePart_Returns400NamingFile()
    {
        using var form = new MultipartFormDataContent { { new StringContent("hello"), "comment" } };

        using var response = await _server.Http.PostAsync("/v1/media", form);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("file", out _));
    }

    [Theory]
    [InlineData("multipart/form-data", "--x\r\n", "content_type")]
    [InlineData("multipart/form-data; boundary=xyz", "no boundary in here at all", "file")]
    [InlineData("multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.avi\"\r\n\r\nabc", "file")]
    [InlineData("multipart/form-data; boundary=xyz", "--xyz\r\nthis is not a header line\r\n\r\nabc\r\n--xyz--\r\n", "file")]
    public async Task Upload_MalformedMultipart_Returns400AndLeavesNothing(string contentType, string body, string field)
    {
        using var content = new StringContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        using var response = await _server.Http.PostAsync("/v1/media", content);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Fact]
    public async Task Upload_EmptyFile_Returns400AndLeavesNothing()
    {
        using var response = await UploadAsync([], "empty.mp4");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("The file is empty.", problem.GetProperty("errors").GetProperty("file")[0].GetString());
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Fact]
    public async Task Upload_TextFileNamedMp4_Returns415AndLeavesNothing()
    {
        using var response = await UploadAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("not a video at all\n", 200))), "notes.mp4");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.StartsWith("The file is not a video or image OpenCV can decode", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Fact]
    public async Task Upload_TruncatedVideo_Returns415AndLeavesNothing()
    {
        var video = TestVideos.PitchAvi(frames: 6, width: 160, height: 120);

        using var response = await UploadAsync(video[..(video.Length * 2 / 3)], "cut.avi");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("truncated", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Theory]
    [InlineData("clip.exe")]
    [InlineData("clip")]
    public async Task Upload_UnknownExtension_Returns415(string fileName)
    {
        using var response = await UploadAsync(TestVideos.PitchAvi(frames: 2, width: 64, height: 64), fileName);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Fact]
    public async Task Upload_DeclaredLengthOverLimit_Returns413()
    {
        using var response = await UploadAsync(new byte[SmallLimit + (128 * 1024)], "big.avi");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Fact]
    public async Task Upload_ChunkedBodyOverLimit_Returns413AndLeavesNothing()
    {
        using var form = new MultipartFormDataContent();
        var file = new StreamContent(new MemoryStream(new byte[SmallLimit + 1]));
        file.Headers.ContentType = new MediaTypeHeaderValue("video/x-msvideo");
        form.Add(file, "file", "big.avi");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/media") { Content = form };
        request.Headers.TransferEncodingChunked = true;

        using var response = await _server.Http.SendAsync(request);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("Media:MaxUploadBytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Fact]
    public async Task Upload_ClientAbortsMidBody_LeavesNothing()
    {
        const string Boundary = "xyz";
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_server.BaseAddress.Host, _server.BaseAddress.Port);
        var stream = tcp.GetStream();
        var head = $"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.avi\"\r\nContent-Type: video/x-msvideo\r\n\r\n";
        var headers = $"POST /v1/media HTTP/1.1\r\nHost: {_server.BaseAddress.Authority}\r\nContent-Type: multipart/form-data; boundary={Boundary}\r\nContent-Length: 200000\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(headers + head));
        await stream.WriteAsync(new byte[50_000]);
        await stream.FlushAsync();
        await ServerFixture.WaitUntilAsync(() => Task.FromResult(TestVideos.FilesUnder(Uploads).Length == 1), TimeSpan.FromSeconds(10), "the partial upload reached the disk");

        tcp.Client.LingerState = new LingerOption(true, 0);
        tcp.Close();

        await ServerFixture.WaitUntilAsync(() => Task.FromResult(TestVideos.FilesUnder(Uploads).Length == 0), TimeSpan.FromSeconds(10), "the partial upload was deleted");
    }

    [Fact]
    public async Task ListMedia_ThreeFiles_PagesInNameOrderWithCursor()
    {
        var video = TestVideos.PitchAvi(frames: 2, width: 64, height: 64);
        Directory.CreateDirectory(Path.Combine(_server.MediaRoot, "clips"));
        _server.WriteMedia("b.avi", video);
        _server.WriteMedia("clips/a.avi", video);
        _server.WriteMedia("a.bmp", TestMedia.BlackBmp());
        _server.WriteMedia("notes.txt", [1, 2, 3]);
        _server.WriteMedia(".hidden.avi", video);

        var first = await _server.GetJsonAsync("/v1/media?limit=2");
        var cursor = first.GetProperty("next_cursor").GetString();
        var second = await _server.GetJsonAsync($"/v1/media?limit=2&cursor={cursor}");

        Assert.Equal(["a.bmp", "b.avi"], first.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.Equal(["clips/a.avi"], second.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        Assert.Equal(64, second.GetProperty("items")[0].GetProperty("width").GetInt32());
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("limit=x", "limit")]
    [InlineData("cursor=%25%25%25", "cursor")]
    [InlineData("cursor=Li4vZXRjL3Bhc3N3ZA", "cursor")]
    public async Task ListMedia_BadQuery_Returns400NamingParameter(string query, string field)
    {
        using var response = await _server.Http.GetAsync($"/v1/media?{query}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Theory]
    [InlineData("/v1/media/..%2F..%2Fetc%2Fpasswd")]
    [InlineData("/v1/media/uploads/..%2F..%2Fjobs.db")]
    [InlineData("/v1/media/~%2Fx.avi")]
    [InlineData("/v1/media/http:%2F%2Fexample.com%2Fx.avi")]
    [InlineData("/v1/media/a%5Cb.avi")]
    public async Task GetAndDeleteMedia_TraversalName_Returns400(string path)
    {
        using var get = await _server.Http.GetAsync(path);
        using var delete = await _server.Http.DeleteAsync(path);

        var problem = await ProblemAssert.IsProblemAsync(get, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("name", out _));
        await ProblemAssert.IsProblemAsync(delete, HttpStatusCode.BadRequest);
        Assert.True(File.Exists(Path.Combine(_server.Root, "jobs.db")));
    }

    [Fact]
    public async Task GetAndDeleteMedia_LinkOutOfTheRoot_Returns404AndKeepsTarget()
    {
        var outside = Directory.CreateDirectory(Path.Combine(_server.Root, "outside")).FullName;
        var secret = Path.Combine(outside, "secret.avi");
        await File.WriteAllBytesAsync(secret, TestVideos.PitchAvi(frames: 2, width: 64, height: 64));
        File.CreateSymbolicLink(Path.Combine(_server.MediaRoot, "link.avi"), secret);

        using var get = await _server.Http.GetAsync("/v1/media/link.avi");
        using var delete = await _server.Http.DeleteAsync("/v1/media/link.avi");
        var list = await _server.GetJsonAsync("/v1/media");

        await ProblemAssert.IsProblemAsync(get, HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(delete, HttpStatusCode.NotFound);
        Assert.True(File.Exists(secret));
        Assert.Empty(list.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task DeleteMedia_Unused_Returns204AndRemovesFile()
    {
        using var upload = await UploadAsync(TestMedia.BlackBmp(), "black.bmp");
        var location = upload.Headers.Location!.OriginalString;

        using var delete = await _server.Http.DeleteAsync(location);
        using var after = await _server.Http.GetAsync(location);

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        await ProblemAssert.IsProblemAsync(after, HttpStatusCode.NotFound);
        Assert.Empty(TestVideos.FilesUnder(Uploads));
    }

    [Fact]
    public async Task DeleteMedia_UsedByQueuedJob_Returns409ThenDeletesAfterCancel()
    {
        var server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Jobs:MaxConcurrentJobs"] = "1" });
        try
        {
            var blocker = await server.SubmitJobAsync(ServerFixture.Synthetic(frames: 600, fps: 30), ["frame_quality"]);
            await server.WaitForStatusAsync(blocker, TimeSpan.FromSeconds(30), "running");
            server.WriteMedia("still.bmp", TestMedia.BlackBmp());
            var queued = await server.SubmitJobAsync("./still.bmp", ["frame_quality"]);

            using var conflict = await server.Http.DeleteAsync("/v1/media/still.bmp");
            var problem = await ProblemAssert.IsProblemAsync(conflict, HttpStatusCode.Conflict);
            Assert.Contains(queued.ToString(), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

            using (await server.Http.PostAsync($"/v1/jobs/{queued}/cancel", null))
            {
            }

            await server.WaitForStatusAsync(queued, TimeSpan.FromSeconds(30), "cancelled");
            using var deleted = await server.Http.DeleteAsync("/v1/media/still.bmp");
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
            using (await server.Http.PostAsync($"/v1/jobs/{blocker}/cancel", null))
            {
            }
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private async Task<HttpResponseMessage> UploadAsync(byte[] bytes, string fileName)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", fileName);
        return await _server.Http.PostAsync("/v1/media", form);
    }
}
