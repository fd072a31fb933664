using System.Net;
using System.Text.Json;
using CleanRealtime.Infrastructure.Media;
using CleanRealtime.IntegrationTests.Infrastructure;
using OpenCvSharp;

namespace CleanRealtime.IntegrationTests.Media;

/// <summary><c>GET /v1/jobs/{id}/frames/{frame_id}/image</c> (API.md §2.6): the frame decoded again, results drawn, JPEG.</summary>
public sealed class FramePictureTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task FramePicture_SyntheticJob_DrawsPlayerBoxesWhereDetected()
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(frames: 3, width: 640, height: 360), ["player_detection", "ball_detection"]);
        var frame = await FrameWithAsync(id, "player_detection", "players");

        using var picture = await PictureAsync($"/v1/jobs/{id}/frames/{frame.GetProperty("frame_id").GetString()}/image");

        Assert.Equal(640, picture.Width);
        foreach (var player in frame.GetProperty("results").GetProperty("player_detection").GetProperty("players").EnumerateArray())
        {
            var x = player.GetProperty("x").GetInt32();
            var y = player.GetProperty("y").GetInt32();
            var h = player.GetProperty("height").GetInt32();
            Assert.True(ColourShare(picture, x, y + (h / 4), x, y + (3 * h / 4), IsYellow) > 0.6, $"no yellow box edge at x={x}");
        }
    }

    [Fact]
    public async Task FramePicture_OverlayFalse_IsTheSceneFrameItself()
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(frames: 4, width: 320, height: 240, seed: 5), ["motion_detection"]);

        using var picture = await PictureAsync($"/v1/jobs/{id}/frames/frame-000003/image?overlay=false");
        using var scene = new SyntheticSource(new SyntheticSceneSettings(4, 0, 320, 240, 5));
        using var expected = scene.RenderFrame(3);

        Assert.True(MeanDifference(picture, expected) < 4, "the picture is not frame 3 of the scene");
    }

    [Fact]
    public async Task FramePicture_UploadedVideo_SeeksToTheRequestedFrame()
    {
        var name = "seek-" + Guid.NewGuid().ToString("N") + ".avi";
        server.WriteMedia(name, TestVideos.PitchAvi(frames: 20, width: 320, height: 240, seed: 9));
        var (id, job) = await server.RunJobAsync(name, ["frame_quality"]);
        Assert.Equal("completed", job.GetProperty("status").GetString());
        using var scene = new SyntheticSource(new SyntheticSceneSettings(20, 0, 320, 240, 9));

        using var picture = await PictureAsync($"/v1/jobs/{id}/frames/frame-000017/image?overlay=false");
        using var wanted = scene.RenderFrame(17);
        using var neighbour = scene.RenderFrame(16);

        Assert.True(MeanDifference(picture, wanted) < MeanDifference(picture, neighbour), "the picture is closer to frame 16 than to frame 17");
    }

    [Fact]
    public async Task FramePicture_Width_ScalesDownKeepingAspect()
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(frames: 2, width: 320, height: 240), ["frame_quality"]);

        using var small = await PictureAsync($"/v1/jobs/{id}/frames/frame-000001/image?width=160");
        using var notUpscaled = await PictureAsync($"/v1/jobs/{id}/frames/frame-000001/image?width=3840");

        Assert.Equal((160, 120), (small.Width, small.Height));
        Assert.Equal((320, 240), (notUpscaled.Width, notUpscaled.Height));
    }

    [Theory]
    [InlineData("frame-000099", "", HttpStatusCode.NotFound)]
    [InlineData("frame-1", "", HttpStatusCode.NotFound)]
    [InlineData("nonsense", "", HttpStatusCode.NotFound)]
    [InlineData("frame-000001", "?width=15", HttpStatusCode.BadRequest)]
    [InlineData("frame-000001", "?width=3841", HttpStatusCode.BadRequest)]
    [InlineData("frame-000001", "?overlay=maybe", HttpStatusCode.BadRequest)]
    [InlineData("frame-000001", "?overlay=true&overlay=false", HttpStatusCode.BadRequest)]
    [InlineData("frame-000001", "?width=wide", HttpStatusCode.BadRequest)]
    public async Task FramePicture_BadFrameOrQuery_ReturnsProblem(string frameId, string query, HttpStatusCode expected)
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(frames: 2, width: 64, height: 64), ["frame_quality"]);

        using var response = await server.Http.GetAsync($"/v1/jobs/{id}/frames/{frameId}/image{query}");

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>The query rules take 1/0 for a boolean where the framework's binder alone would refuse them (a bare 400).</summary>
    [Theory]
    [InlineData("?overlay=1")]
    [InlineData("?overlay=0")]
    [InlineData("?overlay=FALSE&width=32")]
    public async Task FramePicture_OverlayAsOneOrZero_IsAccepted(string query)
    {
        var (id, _) = await server.RunJobAsync(ServerFixture.Synthetic(frames: 1, width: 64, height: 64), ["frame_quality"]);

        using var response = await server.Http.GetAsync($"/v1/jobs/{id}/frames/frame-000001/image{query}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task FramePicture_UnknownJob_Returns404()
    {
        using var response = await server.Http.GetAsync($"/v1/jobs/{Guid.NewGuid()}/frames/frame-000001/image");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task FramePicture_SourceDeleted_Returns410Problem()
    {
        var name = "gone-" + Guid.NewGuid().ToString("N") + ".bmp";
        server.WriteMedia(name, TestMedia.BlackBmp());
        var (id, _) = await server.RunJobAsync(name, ["frame_quality"]);
        File.Delete(Path.Combine(server.MediaRoot, name));

        using var response = await server.Http.GetAsync($"/v1/jobs/{id}/frames/frame-000001/image");

        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("https://tools.ietf.org/html/rfc9110#section-15.5.11", problem.RootElement.GetProperty("type").GetString());
    }

    private async Task<JsonElement> FrameWithAsync(Guid id, string plugin, string list)
    {
        var frames = await server.GetJsonAsync($"/v1/jobs/{id}/frames?limit=10");
        return frames.GetProperty("items").EnumerateArray()
            .First(f => f.GetProperty("results").GetProperty(plugin).GetProperty(list).GetArrayLength() > 0);
    }

    private async Task<Mat> PictureAsync(string path)
    {
        using var response = await server.Http.GetAsync(path);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(bytes)}");
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        var image = Cv2.ImDecode(bytes, ImreadModes.Color);
        Assert.False(image.Empty());
        return image;
    }

    /// <summary>Share of the pixels on the segment (x1,y1)–(x2,y2), ±1 px across it, that match <paramref name="match"/>.</summary>
    public static double ColourShare(Mat image, int x1, int y1, int x2, int y2, Func<Vec3b, bool> match)
    {
        var steps = Math.Max(Math.Abs(x2 - x1), Math.Abs(y2 - y1)) + 1;
        var hits = 0;
        for (var i = 0; i < steps; i++)
        {
            var x = x1 + ((x2 - x1) * i / Math.Max(1, steps - 1));
            var y = y1 + ((y2 - y1) * i / Math.Max(1, steps - 1));
            var hit = false;
            for (var d = -1; d <= 1 && !hit; d++)
            {
                var px = Math.Clamp(x + (y1 == y2 ? 0 : d), 0, image.Width - 1);
                var py = Math.Clamp(y + (y1 == y2 ? d : 0), 0, image.Height - 1);
                hit = match(image.At<Vec3b>(py, px));
            }

            hits += hit ? 1 : 0;
        }

        return hits / (double)steps;
    }

    /// <summary>The overlay's player colour (BGR 0,255,255) after JPEG: strong red and green, little blue.</summary>
    public static bool IsYellow(Vec3b bgr) => bgr.Item2 > 170 && bgr.Item1 > 170 && bgr.Item0 < 110;

    private static double MeanDifference(Mat a, Mat b)
    {
        using var difference = new Mat();
        Cv2.Absdiff(a, b, difference);
        var mean = Cv2.Mean(difference);
        return (mean.Val0 + mean.Val1 + mean.Val2) / 3;
    }
}
