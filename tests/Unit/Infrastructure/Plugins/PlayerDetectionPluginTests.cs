using CleanRealtime.Infrastructure.Media;

using CleanRealtime.Plugins.BuiltIn;

namespace CleanRealtime.UnitTests.Infrastructure.Plugins;

public sealed class PlayerDetectionPluginTests
{
    private readonly PlayerDetectionPlugin _plugin = new();

    [Fact]
    public void Metadata_DescribesTheHogDetector()
    {
        Assert.Equal("player_detection", _plugin.Name);
        Assert.Equal("1.0.0", _plugin.Metadata.Version);
        Assert.Contains("HOG", _plugin.Metadata.Model, StringComparison.Ordinal);
        Assert.Equal([null, null, 3], _plugin.Metadata.InputShape);
    }

    [Fact]
    public void Analyze_UniformFrame_FindsNoPlayers()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, context) = PluginTestFrames.Analyze<PlayerDetectionResult>(session, PluginTestFrames.Uniform(PluginTestFrames.Grass));

        Assert.Empty(result.Players);
        Assert.Equal(0, result.Count);
        Assert.Empty(context.Warnings);
    }

    [Theory]
    [InlineData(64, 64)]
    [InlineData(100, 64)]
    [InlineData(200, 96)]
    [InlineData(63, 200)]
    public void Analyze_FrameSmallerThanTheDetectionWindow_FindsNoPlayersWithoutCrashing(int width, int height)
    {
        // OpenCV's HOG dies with a segmentation fault on these sizes; the plugin must not call it.
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, _) = PluginTestFrames.Analyze<PlayerDetectionResult>(session, PluginTestFrames.Uniform(PluginTestFrames.Grass, width, height));

        Assert.Empty(result.Players);
    }

    [Fact]
    public void Analyze_SyntheticScene_FindsPlayersOnMostFrames()
    {
        using var scene = new SyntheticSource(SyntheticSceneSettings.Default);
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var framesWithPlayers = 0;
        var frames = 0;

        for (var index = 1; index <= 120; index += 12)
        {
            frames++;
            var (result, _) = PluginTestFrames.Analyze<PlayerDetectionResult>(session, scene.RenderFrame(index), index);
            Assert.Equal(result.Players.Count, result.Count);
            Assert.All(result.Players, p =>
            {
                Assert.InRange(p.X, 0, 639);
                Assert.InRange(p.Y, 0, 359);
                Assert.InRange(p.X + p.Width, 1, 640);
                Assert.InRange(p.Y + p.Height, 1, 360);
                Assert.InRange(p.Confidence, 0.5, 1.0);
            });
            framesWithPlayers += result.Count > 0 ? 1 : 0;
        }

        Assert.True(framesWithPlayers >= frames * 0.8, $"players found on {framesWithPlayers} of {frames} frames");
    }

    [Fact]
    public void Analyze_WideFrame_ReportsBoxesInTheFramesOwnPixels()
    {
        using var scene = new SyntheticSource(SyntheticSceneSettings.Default with { Width = 1280, Height = 720 });
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, _) = PluginTestFrames.Analyze<PlayerDetectionResult>(session, scene.RenderFrame(30), 30);

        Assert.NotEmpty(result.Players);
        Assert.All(result.Players, p =>
        {
            Assert.InRange(p.X + p.Width, 1, 1280);
            Assert.InRange(p.Y + p.Height, 1, 720);
        });

        // Players are drawn ~260-320 px tall; HOG boxes add a third for the window margin (~400 px).
        // Boxes left in the 960 px working image's scale would be only ~300 px tall.
        Assert.InRange(result.Players[0].Height, 350, 480);
    }

    [Fact]
    public void Analyze_SyntheticScene_ReportsNoHeavilyOverlappingBoxes()
    {
        using var scene = new SyntheticSource(SyntheticSceneSettings.Default with { Width = 1280, Height = 720 });
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, _) = PluginTestFrames.Analyze<PlayerDetectionResult>(session, scene.RenderFrame(90), 90);

        Assert.True(result.Count >= 3, $"only {result.Count} players found");
        foreach (var (a, i) in result.Players.Select((p, i) => (p, i)))
        {
            foreach (var b in result.Players.Skip(i + 1))
            {
                var overlap = Math.Max(0, Math.Min(a.X + a.Width, b.X + b.Width) - Math.Max(a.X, b.X))
                    * Math.Max(0, Math.Min(a.Y + a.Height, b.Y + b.Height) - Math.Max(a.Y, b.Y));
                var union = (a.Width * a.Height) + (b.Width * b.Height) - overlap;
                Assert.True(overlap <= 0.4 * union, $"{a} and {b} overlap");
            }
        }
    }

    [Fact]
    public void Analyze_MostConfidentPlayer_ComesFirst()
    {
        using var scene = new SyntheticSource(SyntheticSceneSettings.Default);
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, _) = PluginTestFrames.Analyze<PlayerDetectionResult>(session, scene.RenderFrame(1));

        Assert.Equal(result.Players.OrderByDescending(p => p.Confidence).Select(p => p.Confidence), result.Players.Select(p => p.Confidence));
    }
}
