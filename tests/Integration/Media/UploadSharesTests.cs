using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.IntegrationTests.Media;

/// <summary>
/// Issue 16, point 5: no client takes more than its share of uploads (at once, per minute, bytes per day), the media
/// volume keeps its free-space floor, and half-written uploads left by a crash are removed. Against the real server.
/// </summary>
public sealed class UploadSharesTests
{
    private static readonly byte[] Picture = TestMedia.SolidBmp(32, 24, 0, 120, 0);

    [Fact]
    public async Task Upload_BeyondTheConcurrentSharePerClient_Is429WithRetryAfterAndOtherClientsGoOn()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Media:MaxConcurrentUploadsPerClient"] = "2", ["Auth:ApiKeys"] = "key-a,key-b",
        });
        var uploads = Path.Combine(server.MediaRoot, "uploads");

        // Two uploads of key-a in progress (their bodies keep coming), held on raw connections.
        using var first = await StartTrickleAsync(server, "key-a");
        using var second = await StartTrickleAsync(server, "key-a");
        await ServerFixture.WaitUntilAsync(
            () => Task.FromResult(TestVideos.FilesUnder(uploads).Length == 2), TimeSpan.FromSeconds(10), "both uploads reached the disk");

        using (var third = await UploadAsync(server, Picture, "a.bmp", "key-a"))
        {
            var problem = await ProblemAssert.IsProblemAsync(third, HttpStatusCode.TooManyRequests);
            Assert.Contains("2 uploads in progress", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(5), third.Headers.RetryAfter?.Delta);
        }

        using (var other = await UploadAsync(server, Picture, "b.bmp", "key-b"))
        {
            Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        }

        // One of key-a's uploads ends (the client goes away): its place is free again.
        first.Client.LingerState = new LingerOption(true, 0);
        first.Close();
        await ServerFixture.WaitUntilAsync(
            () => Task.FromResult(TestVideos.FilesUnder(uploads).Count(f => Path.GetFileName(f).StartsWith(".part-", StringComparison.Ordinal)) == 1),
            TimeSpan.FromSeconds(10),
            "the cut upload was deleted");
        await ServerFixture.WaitUntilAsync(
            async () =>
            {
                using var again = await UploadAsync(server, Picture, "c.bmp", "key-a");
                return again.StatusCode == HttpStatusCode.Created;
            },
            TimeSpan.FromSeconds(10),
            "key-a could upload again once one of its uploads had ended");
    }

    [Fact]
    public async Task Upload_BeyondTheUploadsPerMinute_Is429UntilTheMinuteHasPassed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await ServerFixture.StartAsync(
            new Dictionary<string, string?> { ["Media:MaxUploadsPerClientPerMinute"] = "3" },
            services => services.AddSingleton<TimeProvider>(clock));

        for (var i = 0; i < 3; i++)
        {
            using var accepted = await UploadAsync(server, Picture, $"{i}.bmp");
            Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(20));
        using (var refused = await UploadAsync(server, Picture, "late.bmp"))
        {
            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests);
            Assert.Contains("at most 3 uploads per minute", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(40), refused.Headers.RetryAfter?.Delta);
        }

        clock.Advance(TimeSpan.FromSeconds(40));
        using var next = await UploadAsync(server, Picture, "next.bmp");
        Assert.Equal(HttpStatusCode.Created, next.StatusCode);
    }

    [Fact]
    public async Task Upload_BeyondTheBytesPerDay_IsCutOffWith429AndKeepsNothingUntilTheDayHasPassed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var daily = (Picture.Length * 2) + 100;
        await using var server = await ServerFixture.StartAsync(
            new Dictionary<string, string?> { ["Media:MaxUploadBytesPerClientPerDay"] = daily.ToString(CultureInfo.InvariantCulture) },
            services => services.AddSingleton<TimeProvider>(clock));
        var uploads = Path.Combine(server.MediaRoot, "uploads");

        for (var i = 0; i < 2; i++)
        {
            using var accepted = await UploadAsync(server, Picture, $"{i}.bmp");
            Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        }

        // The third goes past the day's bytes while it is received: cut off, nothing of it kept.
        using (var cut = await UploadAsync(server, Picture, "third.bmp"))
        {
            var problem = await ProblemAssert.IsProblemAsync(cut, HttpStatusCode.TooManyRequests);
            Assert.Contains("Media:MaxUploadBytesPerClientPerDay", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.InRange(cut.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));
        }

        Assert.Equal(2, TestVideos.FilesUnder(uploads).Length);

        // With the day's share used up, the next is refused before anything is read.
        using (var refused = await UploadAsync(server, Picture, "fourth.bmp"))
        {
            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests);
        }

        clock.Advance(TimeSpan.FromDays(1));
        using var tomorrow = await UploadAsync(server, Picture, "tomorrow.bmp");
        Assert.Equal(HttpStatusCode.Created, tomorrow.StatusCode);
    }

    [Fact]
    public async Task Upload_WhenTheMediaVolumeIsAtItsFreeSpaceFloor_Is507ProblemAndLeavesNothing()
    {
        // A floor above any real disk's free space: every upload would go below it.
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Media:MinFreeBytes"] = (1L << 60).ToString(CultureInfo.InvariantCulture) });

        using var response = await UploadAsync(server, Picture, "a.bmp");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.InsufficientStorage);
        Assert.Equal("https://tools.ietf.org/html/rfc4918#section-11.5", problem.GetProperty("type").GetString());
        Assert.Contains("Media:MinFreeBytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(TestVideos.FilesUnder(Path.Combine(server.MediaRoot, "uploads")));
    }

    [Fact]
    public async Task Start_RemovesPartFilesLeftByACutUpload_AndKeepsStoredFilesAndFreshParts()
    {
        var root = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));
        var uploads = Path.Combine(root, "media", "uploads");
        Directory.CreateDirectory(uploads);
        var leftover = Path.Combine(uploads, $".part-{Guid.NewGuid():N}.mp4");
        var fresh = Path.Combine(uploads, $".part-{Guid.NewGuid():N}.mp4");
        var stored = Path.Combine(uploads, $"{Guid.NewGuid():N}.bmp");
        await File.WriteAllBytesAsync(leftover, new byte[4096]);
        await File.WriteAllBytesAsync(fresh, new byte[4096]);
        await File.WriteAllBytesAsync(stored, Picture);
        File.SetLastWriteTimeUtc(leftover, DateTime.UtcNow.AddMinutes(-5));
        File.SetLastWriteTimeUtc(stored, DateTime.UtcNow.AddMinutes(-5));

        await using var server = await ServerFixture.StartAsync(root: root);

        await ServerFixture.WaitUntilAsync(() => Task.FromResult(!File.Exists(leftover)), TimeSpan.FromSeconds(10), "the leftover was removed at start");
        Assert.True(File.Exists(stored));

        // Written to within the last minute: possibly an upload in progress on another node sharing the media root.
        Assert.True(File.Exists(fresh));
    }

    /// <summary>Starts an upload whose body keeps coming: the headers and the first bytes of a file part, no end.</summary>
    private static async Task<TcpClient> StartTrickleAsync(ServerFixture server, string key)
    {
        const string Boundary = "trickle";
        var tcp = new TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
        var stream = tcp.GetStream();
        var head = $"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.avi\"\r\nContent-Type: video/x-msvideo\r\n\r\n";
        var headers = $"POST /v1/media HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nX-API-Key: {key}\r\n"
                      + $"Content-Type: multipart/form-data; boundary={Boundary}\r\nContent-Length: 200000\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(headers + head));
        await stream.WriteAsync(new byte[10_000]);
        await stream.FlushAsync();
        return tcp;
    }

    private static async Task<HttpResponseMessage> UploadAsync(ServerFixture server, byte[] bytes, string fileName, string? key = null)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", fileName);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/media") { Content = form };
        if (key is not null)
        {
            request.Headers.Add("X-API-Key", key);
        }

        return await server.Http.SendAsync(request);
    }
}
