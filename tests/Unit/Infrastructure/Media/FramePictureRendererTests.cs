using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Infrastructure.Media;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenCvSharp;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class FramePictureRendererTests : IDisposable
{
    private readonly string _root = TestMedia.CreateTempFolder("pictures");
    private readonly FramePictureRenderer _renderer;

    public FramePictureRendererTests() =>
        _renderer = new FramePictureRenderer(
            new FrameSourceFactory(Options.Create(new MediaOptions { Root = _root })), NullLogger<FramePictureRenderer>.Instance);

    public void Dispose() => TestMedia.DeleteFolder(_root);

    [Fact]
    public void RenderJpeg_BallResult_DrawsARedCircleAroundIt()
    {
        var results = new Dictionary<string, JsonElement>
        {
            ["ball_detection"] = Json("""{"balls":[{"x":100,"y":60,"radius":10,"confidence":1}],"count":1}"""),
            ["pitch_detection"] = Json("""{"coverage":1,"corners":[{"x":5,"y":5},{"x":150,"y":5},{"x":150,"y":110},{"x":5,"y":110}]}"""),
        };

        using var picture = Cv2.ImDecode(_renderer.RenderJpeg("synthetic:pitch?frames=3&width=160&height=120", 2, results, null), ImreadModes.Color);

        var ring = picture.At<Vec3b>(60, 100 + 10 + 2);
        Assert.True(ring.Item2 > 170 && ring.Item1 < 90 && ring.Item0 < 90, $"no red ring at the ball's edge: {ring}");
        var edge = picture.At<Vec3b>(60, 5);
        Assert.True(edge.Item0 > 170 && edge.Item2 < 90, $"no blue pitch line: {edge}");
    }

    [Fact]
    public void RenderJpeg_MalformedResults_AreSkipped()
    {
        var results = new Dictionary<string, JsonElement>
        {
            ["player_detection"] = Json("""{"players":"not a list"}"""),
            ["motion_detection"] = Json("[1,2]"),
            ["unknown_plugin"] = Json("""{"boxes":[]}"""),
        };

        var jpeg = _renderer.RenderJpeg("synthetic:pitch?frames=1&width=64&height=64", 1, results, 32);

        using var picture = Cv2.ImDecode(jpeg, ImreadModes.Color);
        Assert.Equal((32, 32), (picture.Width, picture.Height));
    }

    [Theory]
    [InlineData("synthetic:pitch?frames=3", 4)]
    [InlineData("synthetic:moon", 1)]
    [InlineData("missing.avi", 1)]
    [InlineData("../outside.avi", 1)]
    [InlineData("still.png", 2)]
    [InlineData("clip.avi", 9)]
    public void RenderJpeg_SourceOrFrameNoLongerThere_ThrowsGone(string source, int index)
    {
        TestMedia.WriteImage(Path.Combine(_root, "still.png")).Dispose();
        TestMedia.WriteVideo(Path.Combine(_root, "clip.avi"), frames: 4);

        Assert.Throws<GoneException>(() => _renderer.RenderJpeg(source, index, null, null));
    }

    [Fact]
    public void RenderJpeg_VideoFrame_IsTheFrameAtThatPosition()
    {
        var clip = Path.Combine(_root, "clip.avi");
        TestMedia.WriteVideo(clip, frames: 6);

        using var third = Cv2.ImDecode(_renderer.RenderJpeg("clip.avi", 3, null, null), ImreadModes.Color);
        using var capture = new VideoCapture(clip, VideoCaptureAPIs.FFMPEG);
        var differences = new List<double>();
        using var frame = new Mat();
        using var difference = new Mat();
        while (capture.Read(frame) && !frame.Empty())
        {
            Cv2.Absdiff(third, frame, difference);
            var mean = Cv2.Mean(difference);
            differences.Add(mean.Val0 + mean.Val1 + mean.Val2);
        }

        Assert.Equal(6, differences.Count);
        Assert.Equal(2, differences.IndexOf(differences.Min()));
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();
}
