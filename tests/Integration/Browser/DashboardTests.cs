using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using CleanRealtime.IntegrationTests.Infrastructure;
using CleanRealtime.IntegrationTests.Media;
using Microsoft.Playwright;
using OpenCvSharp;

namespace CleanRealtime.IntegrationTests.Browser;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection : ICollectionFixture<BrowserSession>
{
    public const string Name = "Browser";
}

/// <summary>The dashboard at <c>/</c> in a real headless Chromium against the real server (API.md §6).</summary>
[Collection(BrowserCollection.Name)]
public sealed partial class DashboardTests(BrowserSession browser) : IAsyncLifetime
{
    private static readonly string[] AllPlugins = ["player_detection", "ball_detection", "motion_detection", "pitch_detection", "frame_quality"];
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(150);

    private ServerFixture _server = null!;

    public async Task InitializeAsync() => _server = await ServerFixture.StartAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Dashboard_UploadAndRunFivePlugins_ShowsOverlayTimingsAndEveryMessage()
    {
        var video = Path.Combine(_server.Root, "match.avi");
        await File.WriteAllBytesAsync(video, TestVideos.PitchAvi(frames: 16, width: 640, height: 360, fps: 10));
        var page = await browser.NewPageAsync(_server.BaseAddress);
        await page.GotoAsync("/");

        await page.GetByLabel("File").SetInputFilesAsync(video);
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload" }).ClickAsync();
        await Assertions.Expect(page.Locator("#upload-status")).ToContainTextAsync("Uploaded as uploads/");
        Assert.Equal("100", await page.Locator("#upload-progress").GetAttributeAsync("value"));
        await Assertions.Expect(page.GetByLabel("Source")).ToHaveValueAsync(UploadedSource());
        var checkedPlugins = await page.Locator("#plugins input:checked").EvaluateAllAsync<string[]>("boxes => boxes.map(b => b.value)");
        Assert.Equal(AllPlugins.Order(), checkedPlugins.Order());

        await page.GetByRole(AriaRole.Button, new() { Name = "Start analysis" }).ClickAsync();
        // A hash change is a same-document navigation that may already have happened: poll the URL, do not wait for an event.
        await Assertions.Expect(page).ToHaveURLAsync(JobPageUrl(), new() { Timeout = 30_000 });
        var jobId = Guid.Parse(page.Url[(page.Url.LastIndexOf('/') + 1)..]);
        await WaitForCompleteAsync(page);

        Assert.Equal("100", await page.Locator("#job-progress").GetAttributeAsync("value"));
        var charted = await page.Locator("#timings li").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.plugin)");
        Assert.Equal(AllPlugins.Order(), charted.Order());
        var perPlugin = await page.Locator("#plugin-frames tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.cells[1].textContent)");
        Assert.All(perPlugin, frames => Assert.Equal("16", frames));
        Assert.Equal(await ServerMessageCountAsync(jobId), await MessageCountAsync(page));

        // The live picture is the last frame, with the detections drawn where the API says they are.
        await Assertions.Expect(page.Locator("#live-frame")).ToHaveAttributeAsync("data-frame-id", "frame-000016", new() { Timeout = 10_000 });
        await AssertOverlayMatchesDetectionsAsync(jobId, "frame-000016");
        await BrowserSession.ScreenshotAsync(page, "dashboard-job");

        // The results viewer pages through the frames, by button and by keyboard.
        await Assertions.Expect(page.Locator("#viewer-total")).ToHaveTextAsync("of 16");
        await page.GetByRole(AriaRole.Button, new() { Name = "Next frame" }).ClickAsync();
        await Assertions.Expect(page.Locator("#viewer-caption")).ToContainTextAsync("frame-000002");
        await page.GetByRole(AriaRole.Button, new() { Name = "Next frame" }).PressAsync("ArrowRight");
        await Assertions.Expect(page.Locator("#viewer-caption")).ToContainTextAsync("frame-000003");
        await page.Locator("#viewer").ScrollIntoViewIfNeededAsync();
        await BrowserSession.ScreenshotAsync(page, "dashboard-viewer");

        await page.GotoAsync("/");
        await Assertions.Expect(page.Locator($"#jobs tr[data-job-id='{jobId}']")).ToHaveAttributeAsync("data-status", "completed");
        await BrowserSession.ScreenshotAsync(page, "dashboard-home");
    }

    [Fact]
    public async Task Dashboard_JobThatFails_ShowsErrorBanner()
    {
        var name = _server.WriteMedia("broken.mp4", TestMedia.Garbage());
        var jobId = await _server.SubmitJobAsync(name, ["frame_quality"]);
        var page = await browser.NewPageAsync(_server.BaseAddress);

        await page.GotoAsync($"/#/jobs/{jobId}");

        var banner = page.GetByRole(AriaRole.Alert);
        await Assertions.Expect(banner).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(banner).ToContainTextAsync("Job failed");
        await Assertions.Expect(page.Locator("#timeline li.error")).Not.ToHaveCountAsync(0);
        await WaitForCompleteAsync(page);
        Assert.Equal(await ServerMessageCountAsync(jobId), await MessageCountAsync(page));
        await Assertions.Expect(page.Locator("#live-frame")).ToBeHiddenAsync();
        await BrowserSession.ScreenshotAsync(page, "dashboard-failed-job");
    }

    [Fact]
    public async Task Dashboard_ConnectionDroppedMidJob_ResumesWithSinceAndCountsEveryMessage()
    {
        var urls = new List<string>();
        var page = await browser.NewPageAsync(_server.BaseAddress);
        var dropped = new TaskCompletionSource();
        await page.RouteWebSocketAsync(new Regex("/v1/realtime\\?job_id="), route =>
        {
            lock (urls)
            {
                urls.Add(route.Url);
            }

            var upstream = route.ConnectToServer();
            if (dropped.Task.IsCompleted)
            {
                return;
            }

            // The first connection forwards 40 messages, then breaks as a network failure would (page side closed).
            var forwarded = 0;
            upstream.OnMessage(frame =>
            {
                if (dropped.Task.IsCompleted)
                {
                    return;
                }

                route.Send(frame.Text ?? string.Empty);
                if (++forwarded == 40)
                {
                    dropped.TrySetResult();
                    _ = route.CloseAsync(new() { Code = 1001, Reason = "network gone" });
                    _ = upstream.CloseAsync();
                }
            });
        });
        var jobId = await _server.SubmitJobAsync(ServerFixture.Synthetic(frames: 75, fps: 25), ["motion_detection", "frame_quality"]);

        await page.GotoAsync($"/#/jobs/{jobId}");
        await dropped.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitForCompleteAsync(page);

        var serverCount = await ServerMessageCountAsync(jobId);
        Assert.Equal(serverCount, await MessageCountAsync(page));
        await Assertions.Expect(page.Locator("#message-count")).ToContainTextAsync("resumed");
        string[] seen;
        lock (urls)
        {
            seen = [.. urls];
        }

        Assert.True(seen.Length >= 2, $"the page did not reconnect: {string.Join(", ", seen)}");
        Assert.Contains("since=0", seen[0], StringComparison.Ordinal);
        var since = int.Parse(SinceParameter().Match(seen[1]).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(since, 1, serverCount - 1);
        await BrowserSession.ScreenshotAsync(page, "dashboard-resumed");
    }

    [Fact]
    public async Task Dashboard_DeleteFile_RemovesItOrSaysWhyNot()
    {
        _server.WriteMedia("old.bmp", TestMedia.BlackBmp());
        _server.WriteMedia("busy.bmp", TestMedia.BlackBmp());
        var page = await browser.NewPageAsync(_server.BaseAddress);
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GotoAsync("/");
        await Assertions.Expect(page.Locator("#source option[value='old.bmp']")).ToHaveCountAsync(1);

        await page.GetByLabel("Source").SelectOptionAsync("old.bmp");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete file" }).ClickAsync();

        await Assertions.Expect(page.Locator("#source-status")).ToHaveTextAsync("Deleted old.bmp.");
        await Assertions.Expect(page.Locator("#source option[value='old.bmp']")).ToHaveCountAsync(0);
        Assert.False(File.Exists(Path.Combine(_server.MediaRoot, "old.bmp")));

        // A file a queued or running job uses is kept, and the page says why.
        var blocker = await _server.SubmitJobAsync(ServerFixture.Synthetic(frames: 900, fps: 30), ["frame_quality"]);
        var second = await _server.SubmitJobAsync(ServerFixture.Synthetic(frames: 900, fps: 30), ["frame_quality"]);
        var waiting = await _server.SubmitJobAsync("busy.bmp", ["frame_quality"]);
        await page.GetByLabel("Source").SelectOptionAsync("busy.bmp");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete file" }).ClickAsync();

        await Assertions.Expect(page.Locator("#source-status")).ToContainTextAsync("Not deleted: Conflict.");
        Assert.True(File.Exists(Path.Combine(_server.MediaRoot, "busy.bmp")));
        foreach (var id in new[] { waiting, blocker, second })
        {
            using (await _server.Http.PostAsync($"/v1/jobs/{id}/cancel", null))
            {
            }
        }
    }

    [Fact]
    public async Task Dashboard_CancelButton_CancelsARunningJob()
    {
        var jobId = await _server.SubmitJobAsync(ServerFixture.Synthetic(frames: 900, fps: 30), ["frame_quality"]);
        var page = await browser.NewPageAsync(_server.BaseAddress);
        await page.GotoAsync($"/#/jobs/{jobId}");

        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel job" }).ClickAsync();

        await WaitForCompleteAsync(page);
        await Assertions.Expect(page.Locator("#progress-label")).ToContainTextAsync("(cancelled)");
        await Assertions.Expect(page.Locator("#cancel-job")).ToBeHiddenAsync();
        var job = await _server.GetJsonAsync($"/v1/jobs/{jobId}/extended");
        Assert.Equal("cancelled", job.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Dashboard_PhoneScreen_FitsAndEveryControlIsLabelled()
    {
        var page = await browser.NewPageAsync(_server.BaseAddress, 390, 844);
        await page.GotoAsync("/");
        await Assertions.Expect(page.Locator("#plugins input")).ToHaveCountAsync(5);

        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(overflow <= 0, $"the page is {overflow} px wider than the phone screen");
        var unlabelled = await page.EvaluateAsync<string[]>(
            "() => [...document.querySelectorAll('main input, main select, main button')]" +
            ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()).map(e => e.outerHTML)");
        Assert.Empty(unlabelled);

        // Keyboard only: tab to the submit button and press Enter on the default source and plugins.
        await page.GetByLabel("Source").FocusAsync();
        await page.GetByLabel("Source").SelectOptionAsync("synthetic:pitch?frames=120");
        for (var i = 0; i < 12 && await page.EvaluateAsync<string>("() => document.activeElement.id") != "submit-job"; i++)
        {
            await page.Keyboard.PressAsync("Tab");
        }

        Assert.Equal("submit-job", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        await page.Keyboard.PressAsync("Enter");
        // A hash change is a same-document navigation that may already have happened: poll the URL, do not wait for an event.
        await Assertions.Expect(page).ToHaveURLAsync(JobPageUrl(), new() { Timeout = 30_000 });
        await WaitForCompleteAsync(page);
        var phoneOverflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(phoneOverflow <= 0, $"the job page is {phoneOverflow} px wider than the phone screen");
        await BrowserSession.ScreenshotAsync(page, "dashboard-phone");
    }

    [Fact]
    public async Task Dashboard_ServerWithApiKeys_AsksForKeyAndUsesItForRestAndWebSocket()
    {
        var secured = await ServerFixture.StartAsync(new Dictionary<string, string?> { ["Auth:ApiKeys"] = "dash-key-1" });
        try
        {
            var page = await browser.NewPageAsync(secured.BaseAddress);
            await page.GotoAsync("/");

            var dialog = page.GetByRole(AriaRole.Dialog);
            await Assertions.Expect(dialog).ToBeVisibleAsync();
            await dialog.GetByLabel("API key").FillAsync("dash-key-1");
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Use key" }).ClickAsync();

            await Assertions.Expect(page.Locator("#plugins input")).ToHaveCountAsync(5);
            await Assertions.Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "live");
            Assert.Equal("dash-key-1", await page.EvaluateAsync<string>("() => sessionStorage.getItem('cleanrealtime.apiKey')"));
        }
        finally
        {
            await secured.DisposeAsync();
        }
    }

    private static async Task WaitForCompleteAsync(IPage page) =>
        await Assertions.Expect(page.Locator("#message-count")).ToHaveAttributeAsync(
            "data-complete", "true", new() { Timeout = (float)JobTimeout.TotalMilliseconds });

    private static async Task<int> MessageCountAsync(IPage page) =>
        int.Parse((await page.Locator("#message-count").GetAttributeAsync("data-count"))!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Every message the server logged for the job, read page by page from GET /v1/jobs/{id}/events.</summary>
    private async Task<int> ServerMessageCountAsync(Guid jobId)
    {
        var count = 0;
        long since = 0;
        while (true)
        {
            var page = await _server.GetJsonAsync($"/v1/jobs/{jobId}/events?since={since}&limit=1000");
            count += page.GetProperty("items").GetArrayLength();
            since = page.GetProperty("next_since").GetInt64();
            if (page.GetProperty("finished").GetBoolean() || page.GetProperty("items").GetArrayLength() == 0)
            {
                return count;
            }
        }
    }

    /// <summary>The picture the page shows, fetched the same way, has a coloured edge on every player box and motion region.</summary>
    private async Task AssertOverlayMatchesDetectionsAsync(Guid jobId, string frameId)
    {
        var frames = await _server.Http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{jobId}/frames?offset={int.Parse(frameId[6..], System.Globalization.CultureInfo.InvariantCulture) - 1}&limit=1");
        var results = frames.GetProperty("items")[0].GetProperty("results");
        var bytes = await _server.Http.GetByteArrayAsync($"/v1/jobs/{jobId}/frames/{frameId}/image?overlay=true&width=960");
        using var picture = Cv2.ImDecode(bytes, ImreadModes.Color);
        Assert.Equal(640, picture.Width);

        var boxes = 0;
        foreach (var (plugin, list, isColour) in new (string, string, Func<Vec3b, bool>)[]
                 {
                     ("player_detection", "players", FramePictureTests.IsYellow),
                     ("motion_detection", "regions", IsMagenta),
                 })
        {
            foreach (var box in results.GetProperty(plugin).GetProperty(list).EnumerateArray())
            {
                var x = box.GetProperty("x").GetInt32();
                var y = box.GetProperty("y").GetInt32();
                var w = box.GetProperty("width").GetInt32();
                var h = box.GetProperty("height").GetInt32();
                if (w < 12 || h < 12)
                {
                    continue;
                }

                // The left edge, away from the corners where another box or a label may be drawn over it.
                var share = FramePictureTests.ColourShare(picture, x, y + (h / 4), x, y + (3 * h / 4), isColour);
                var right = FramePictureTests.ColourShare(picture, x + w - 1, y + (h / 4), x + w - 1, y + (3 * h / 4), isColour);
                Assert.True(Math.Max(share, right) > 0.5, $"{plugin} box at ({x},{y},{w}×{h}) has no drawn edge (left {share:P0}, right {right:P0})");
                boxes++;
            }
        }

        Assert.True(boxes > 0, "the frame has no player or motion box to check");
    }

    private static bool IsMagenta(Vec3b bgr) => bgr.Item0 > 170 && bgr.Item2 > 170 && bgr.Item1 < 110;

    [GeneratedRegex("^uploads/")]
    private static partial Regex UploadedSource();

    [GeneratedRegex("#/jobs/[0-9a-f-]{36}$")]
    private static partial Regex JobPageUrl();

    [GeneratedRegex("since=([0-9]+)")]
    private static partial Regex SinceParameter();
}
