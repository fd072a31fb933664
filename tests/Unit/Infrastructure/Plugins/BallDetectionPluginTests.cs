using CleanRealtime.Infrastructure.Media;
using OpenCvSharp;

using CleanRealtime.Plugins.BuiltIn;

namespace CleanRealtime.UnitTests.Infrastructure.Plugins;

public sealed class BallDetectionPluginTests
{
    private readonly BallDetectionPlugin _plugin = new();

    [Theory]
    [InlineData(400, 90, 9)]
    [InlineData(120, 320, 9)]
    [InlineData(320, 180, 14)]
    public void Analyze_WhiteBallDrawnAtAKnownPlace_FindsItThere(int x, int y, int radius)
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var image = PluginTestFrames.Uniform(PluginTestFrames.Grass);
        Cv2.Circle(image, new Point(x, y), radius, Scalar.White, -1, LineTypes.AntiAlias);

        var (result, _) = PluginTestFrames.Analyze<BallDetectionResult>(session, image);

        var ball = Assert.Single(result.Balls);
        Assert.InRange(ball.X, x - 2, x + 2);
        Assert.InRange(ball.Y, y - 2, y + 2);
        Assert.InRange(ball.Radius, radius - 2, radius + 2);
        Assert.InRange(ball.Confidence, 0.9, 1.0);
    }

    [Fact]
    public void Analyze_EmptyPitch_FindsNoBall()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        var (result, _) = PluginTestFrames.Analyze<BallDetectionResult>(session, PluginTestFrames.Uniform(PluginTestFrames.Grass));

        Assert.Empty(result.Balls);
        Assert.Equal(0, result.Count);
    }

    [Fact]
    public void Analyze_DarkCircle_IsRejectedByTheWhitenessCheck()
    {
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var image = PluginTestFrames.Uniform(new Scalar(200, 200, 200));
        Cv2.Circle(image, new Point(300, 150), 10, new Scalar(20, 20, 150), -1, LineTypes.AntiAlias);

        var (result, _) = PluginTestFrames.Analyze<BallDetectionResult>(session, image);

        Assert.Empty(result.Balls);
    }

    [Fact]
    public void Analyze_SyntheticScene_FindsTheBallOnItsKnownTrajectory()
    {
        using var scene = new SyntheticSource(SyntheticSceneSettings.Default);
        using var session = _plugin.OpenSession(PluginTestFrames.Options);
        var found = 0;
        var frames = 0;

        for (var index = 1; index <= 120; index += 6)
        {
            frames++;
            var expected = scene.BallCenterAt(index);
            var (result, _) = PluginTestFrames.Analyze<BallDetectionResult>(session, scene.RenderFrame(index), index);
            if (result.Balls.Count > 0 && Math.Abs(result.Balls[0].X - expected.X) <= 3 && Math.Abs(result.Balls[0].Y - expected.Y) <= 3)
            {
                found++;
            }
        }

        Assert.True(found >= frames * 0.9, $"ball found at its true position on {found} of {frames} frames");
    }

    [Fact]
    public void Analyze_Every30Frames_ReportsTheTrajectorySoFar()
    {
        using var scene = new SyntheticSource(SyntheticSceneSettings.Default);
        using var session = _plugin.OpenSession(PluginTestFrames.Options);

        for (var index = 1; index <= 60; index++)
        {
            var (_, context) = PluginTestFrames.Analyze<BallDetectionResult>(session, scene.RenderFrame(index), index);
            if (index % 30 != 0)
            {
                Assert.Null(context.PartialResult);
                continue;
            }

            var summary = Assert.IsType<BallTrajectorySummary>(context.PartialResult);
            Assert.Equal(index, summary.FramesAnalyzed);
            Assert.InRange(summary.FramesWithBall, index - 3, index);
            Assert.Equal(Math.Round((double)summary.FramesWithBall / index, 3), summary.DetectionRate);
            Assert.True(summary.PathLengthPx > 0);
            Assert.Equal(30, summary.RecentPoints.Count);
            Assert.Equal(summary.LastPosition, summary.RecentPoints[^1]);
            var expected = scene.BallCenterAt(summary.LastPosition!.Frame);
            Assert.InRange(summary.LastPosition.X, expected.X - 3, expected.X + 3);
        }
    }
}
