using CleanRealtime.Infrastructure.Media;
using OpenCvSharp;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>Small real videos made in the test with OpenCV's <c>VideoWriter</c> (MJPG in AVI: no external codec needed).</summary>
public static class TestVideos
{
    /// <summary>The synthetic pitch scene (players big enough for HOG at 640×360) written as an MJPG AVI.</summary>
    public static byte[] PitchAvi(int frames = 12, int width = 640, int height = 360, int fps = 10, int seed = 1)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cleanrealtime-video-{Guid.NewGuid():N}.avi");
        try
        {
            using (var scene = new SyntheticSource(new SyntheticSceneSettings(frames, 0, width, height, seed)))
            using (var writer = new VideoWriter(path, FourCC.MJPG, fps, new Size(width, height)))
            {
                Assert.True(writer.IsOpened(), "OpenCV could not open an MJPG AVI writer");
                for (var i = 1; i <= frames; i++)
                {
                    using var frame = scene.RenderFrame(i);
                    writer.Write(frame);
                }
            }

            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Every file under <paramref name="folder"/>, hidden ones included (what an upload may have left behind).</summary>
    public static string[] FilesUnder(string folder) =>
        Directory.Exists(folder)
            ? Directory.GetFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            : [];
}
