using CleanRealtime.Application.Media;
using OpenCvSharp;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

/// <summary>Writes small media files with known content into a test's temp folder.</summary>
internal static class TestMedia
{
    /// <summary>Reads every frame of a source; the caller disposes them (<see cref="DisposeAll"/>).</summary>
    public static async Task<List<VideoFrame>> ReadAllAsync(IFrameSource source)
    {
        var frames = new List<VideoFrame>();
        await foreach (var frame in source.ReadFramesAsync(CancellationToken.None))
        {
            frames.Add(frame);
        }

        return frames;
    }

    public static void DisposeAll(IEnumerable<VideoFrame> frames)
    {
        foreach (var frame in frames)
        {
            frame.Dispose();
        }
    }

    public static string CreateTempFolder(string purpose)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cr-{purpose}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>An MJPG .avi whose frame k (1-based) shows a white square k*8 px from the left.</summary>
    public static void WriteVideo(string path, int frames, int width = 160, int height = 120, double fps = 25)
    {
        using var writer = new VideoWriter(path, FourCC.MJPG, fps, new Size(width, height));
        Assert.True(writer.IsOpened(), "OpenCV could not open a MJPG writer");
        for (var k = 1; k <= frames; k++)
        {
            using var image = new Mat(height, width, MatType.CV_8UC3, new Scalar(40, 120, 40));
            Cv2.Rectangle(image, new Rect(k * 8, height / 3, 16, 16), Scalar.White, -1);
            writer.Write(image);
        }
    }

    public static Mat WriteImage(string path, int width = 50, int height = 40)
    {
        var image = new Mat(height, width, MatType.CV_8UC3, new Scalar(10, 200, 30));
        Cv2.Circle(image, new Point(width / 2, height / 2), height / 4, new Scalar(250, 20, 90), -1);
        Assert.True(Cv2.ImWrite(path, image));
        return image;
    }

    public static void WriteRandomBytes(string path, int length = 4096)
    {
        var bytes = new byte[length];
        new Random(42).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
    }

    public static void DeleteFolder(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
