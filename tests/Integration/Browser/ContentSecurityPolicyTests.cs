using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace CleanRealtime.IntegrationTests.Browser;

/// <summary>
/// The dashboard under the Content-Security-Policy the server sends (script, style, images and connections of its own
/// only, never framed), in a real headless Chromium: everything still works and the browser reports no violation.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class ContentSecurityPolicyTests(BrowserSession browser) : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public async Task InitializeAsync() => _server = await ServerFixture.StartAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Dashboard_UnderItsContentSecurityPolicy_RunsAJobWithNoViolation()
    {
        var jobId = await _server.SubmitJobAsync(ServerFixture.Synthetic(frames: 6, width: 320, height: 240), ["frame_quality", "player_detection"]);
        var page = await browser.NewPageAsync(_server.BaseAddress);
        var console = new List<string>();
        page.Console += (_, message) => console.Add($"{message.Type}: {message.Text}");
        page.PageError += (_, error) => console.Add($"page error: {error}");
        // Injected by the test runner (not subject to the page's policy): records every violation the page reports.
        await page.AddInitScriptAsync(
            "window.__violations = []; document.addEventListener('securitypolicyviolation', e => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));");

        var response = await page.GotoAsync("/");
        Assert.Contains("script-src 'self'", await response!.HeaderValueAsync("content-security-policy"), StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("#plugins input")).ToHaveCountAsync(5);
        await page.GotoAsync($"/#/jobs/{jobId}");
        await Assertions.Expect(page.Locator("#message-count")).ToHaveAttributeAsync("data-complete", "true", new() { Timeout = 120_000 });

        // The timing bars are sized through the CSSOM (an inline style attribute would be refused): the slowest is full.
        var widths = await page.Locator("#timings .bar").EvaluateAllAsync<string[]>("bars => bars.map(b => b.style.width)");
        Assert.Equal(2, widths.Length);
        Assert.Contains("100%", widths);
        Assert.All(widths, w => Assert.EndsWith("%", w, StringComparison.Ordinal));
        var barPixels = await page.Locator("#timings .bar").EvaluateAllAsync<double[]>("bars => bars.map(b => b.getBoundingClientRect().width)");
        Assert.True(barPixels.Max() > 10, $"the bars are {string.Join(", ", barPixels)} px wide");

        // The live picture is fetched with the key header and shown as a blob: URL (img-src 'self' blob:).
        await Assertions.Expect(page.Locator("#live-frame")).ToHaveAttributeAsync("data-frame-id", "frame-000006", new() { Timeout = 20_000 });
        await page.WaitForFunctionAsync("() => document.querySelector('#live-frame').naturalWidth > 0");

        var violations = await page.EvaluateAsync<string[]>("() => window.__violations");
        Assert.True(violations.Length == 0, "CSP violations: " + string.Join(" | ", violations));
        Assert.DoesNotContain(console, line => line.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(console, line => line.StartsWith("page error", StringComparison.Ordinal));
        await BrowserSession.ScreenshotAsync(page, "dashboard-csp");
    }

    [Fact]
    public async Task Dashboard_FramedByAnotherPage_IsNotShown()
    {
        var page = await browser.NewPageAsync(_server.BaseAddress);
        await page.GotoAsync("/");
        var dashboard = page.Url;

        // A page of no origin of the server's (about:blank) frames the dashboard: frame-ancestors 'none' blocks it.
        await page.GotoAsync("about:blank");
        await page.SetContentAsync($"<iframe id=\"victim\" src=\"{dashboard}\" width=\"800\" height=\"600\"></iframe>");
        var frame = await (await page.QuerySelectorAsync("#victim"))!.ContentFrameAsync();
        Assert.NotNull(frame);

        // Blocked, Chromium puts its error page in the frame; shown, the dashboard's buttons appear. Wait for either.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!frame!.Url.StartsWith("chrome-error:", StringComparison.Ordinal) && await frame.Locator("button").CountAsync() == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the frame neither loaded nor was blocked: {frame.Url}");
            await Task.Delay(50);
        }

        Assert.Equal(0, await frame.Locator("button").CountAsync());
        Assert.StartsWith("chrome-error:", frame.Url, StringComparison.Ordinal);
    }
}
