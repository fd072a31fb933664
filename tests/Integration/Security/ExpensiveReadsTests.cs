using System.Net;
using CleanRealtime.IntegrationTests.Infrastructure;
using CleanRealtime.IntegrationTests.Reliability;

namespace CleanRealtime.IntegrationTests.Security;

/// <summary>
/// Issue 16, point 5: job GETs of large jobs and frame pictures go through a limiter (<c>Reads:*</c>): a client over
/// its share is answered 429, a server with every place taken 503, both with <c>Retry-After</c>; the rest of the API
/// goes on. And 96 parallel pictures of a 4K job no longer take the server's memory up by a gigabyte.
/// </summary>
public sealed class ExpensiveReadsTests
{
    private const int LargeJobFrames = 100_000;

    [Fact]
    public async Task LargeJobGets_BeyondTheClientsShare_Are429AndBeyondTheServersAre503_WithRetryAfter()
    {
        await using var server = await ServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Reads:MaxConcurrent"] = "2", ["Reads:MaxConcurrentPerClient"] = "1", ["Reads:MaxWait"] = "00:00:00.5",
            ["Auth:ApiKeys"] = "key-a,key-b,key-c",
        });
        var big = await BoundedMemoryTests.SeedFinishedJobAsync(Path.Combine(server.Root, "jobs.db"), LargeJobFrames);
        var small = await BoundedMemoryTests.SeedFinishedJobAsync(Path.Combine(server.Root, "jobs.db"), 10);

        // key-a's read of the big job holds its place: the client reads the headers and then nothing, so the server
        // waits to write the rest (14 MB) for as long as the response is open.
        var heldA = await SendAsync(server, "key-a", $"/v1/jobs/{big}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, heldA.StatusCode);

        using (var again = await SendAsync(server, "key-a", $"/v1/jobs/{big}/extended"))
        {
            var problem = await ProblemAssert.IsProblemAsync(again, HttpStatusCode.TooManyRequests);
            Assert.Contains("expensive reads", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(1), again.Headers.RetryAfter?.Delta);
        }

        using (var picture = await SendAsync(server, "key-a", $"/v1/jobs/{big}/frames/frame-000001/image?width=32"))
        {
            await ProblemAssert.IsProblemAsync(picture, HttpStatusCode.TooManyRequests);
        }

        // Cheap reads are not limited.
        using (var cheap = await SendAsync(server, "key-a", $"/v1/jobs/{small}"))
        using (var page = await SendAsync(server, "key-a", $"/v1/jobs/{big}/frames?offset=99990&limit=10"))
        {
            Assert.Equal(HttpStatusCode.OK, cheap.StatusCode);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        using var heldB = await SendAsync(server, "key-b", $"/v1/jobs/{big}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, heldB.StatusCode);
        using (var busy = await SendAsync(server, "key-c", $"/v1/jobs/{big}"))
        {
            var problem = await ProblemAssert.IsProblemAsync(busy, HttpStatusCode.ServiceUnavailable);
            Assert.Contains("busy", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(2), busy.Headers.RetryAfter?.Delta);
        }

        // key-a goes away mid-response: its place is free again, and key-c's read is let in (its 200 comes only once it
        // holds a place; the 14 MB body is not read, so that a loaded machine does not turn this into a timing test).
        heldA.Dispose();
        await ServerFixture.WaitUntilAsync(
            async () =>
            {
                using var read = await SendAsync(server, "key-c", $"/v1/jobs/{big}", HttpCompletionOption.ResponseHeadersRead);
                return read.StatusCode == HttpStatusCode.OK;
            },
            TimeSpan.FromSeconds(30),
            "key-c was let in once key-a's read had ended");
    }

    [Fact]
    public async Task FramePictures_96InParallelOfA4KJob_AnswerEachWithinTheLimiterAndKeepMemoryBounded()
    {
        var root = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            const int Pictures = 96;
            var keys = Enumerable.Range(0, Pictures).Select(i => $"key-{i}").ToArray();
            await using var server = await ServerProcess.StartAsync(root, $"--Auth:ApiKeys={string.Join(',', keys)}");
            var job = await BoundedMemoryTests.SeedFinishedJobAsync(
                Path.Combine(root, "jobs.db"), Pictures, $"synthetic:pitch?frames={Pictures}&width=3840&height=2160");

            // Warm-up: one picture, so the baseline holds what any first picture loads (OpenCV, the JPEG encoder).
            using (var first = await SendAsync(server.Http, keys[0], $"/v1/jobs/{job}/frames/frame-000001/image"))
            {
                Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            }

            var before = server.Memory().Resident;
            var answers = await Task.WhenAll(Enumerable.Range(1, Pictures).Select(async i =>
            {
                using var response = await SendAsync(server.Http, keys[i - 1], $"/v1/jobs/{job}/frames/frame-{i:D6}/image");
                var bytes = await response.Content.ReadAsByteArrayAsync();
                return (response.StatusCode, RetryAfter: response.Headers.RetryAfter?.Delta, Bytes: bytes.Length);
            }));
            var peak = server.Memory().Peak;

            // Each got a picture or a 503 with Retry-After (every client asked once: no 429), never a 500.
            Assert.All(answers, a => Assert.True(
                a.StatusCode == HttpStatusCode.OK || (a.StatusCode == HttpStatusCode.ServiceUnavailable && a.RetryAfter is not null),
                $"a picture was answered {(int)a.StatusCode}"));
            Assert.True(answers.Count(a => a.StatusCode == HttpStatusCode.OK) >= 4, "fewer pictures than the limiter's places were drawn");
            Assert.All(answers.Where(a => a.StatusCode == HttpStatusCode.OK), a => Assert.True(a.Bytes > 10_000, "a picture was almost empty"));

            // Before the limiter: +710 MB resident (0.63 -> 1.34 GB) for 96 parallel 4K pictures.
            Assert.True(peak - before < 400L * 1024 * 1024, $"peak resident memory grew by {(peak - before) / 1024 / 1024} MB");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static Task<HttpResponseMessage> SendAsync(
        ServerFixture server, string key, string path, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead) =>
        SendAsync(server.Http, key, path, completion);

    private static Task<HttpResponseMessage> SendAsync(
        HttpClient http, string key, string path, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { { "X-API-Key", key } } };
        return http.SendAsync(request, completion);
    }
}
