using System.Buffers.Binary;
using CleanRealtime.Application.Media;
using OpenCvSharp;

using CleanRealtime.Plugins.Sdk;

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

    /// <summary>
    /// An MJPG .avi shaped like Debian opencv-doc's tree.avi: its <c>movi</c> list and <c>idx1</c> index hold, after real
    /// frame k (0-based, drawn as in <see cref="WriteVideo"/>), <paramref name="repeats"/>[k] zero-size <c>00dc</c> chunks
    /// ("repeat the previous picture"), and its headers count every index entry. Returns that count.
    /// </summary>
    public static int WriteRepeatFrameVideo(string path, IReadOnlyList<int> repeats, double fps = 25)
    {
        WriteVideo(path, repeats.Count, fps: fps);
        var file = File.ReadAllBytes(path);
        var movi = IndexOf(file, "movi"u8, 0) - 8;
        Assert.True(file.AsSpan(movi, 4).SequenceEqual("LIST"u8), "'movi' is not a LIST");
        var moviEnd = movi + 8 + BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(movi + 4));
        var pictures = new List<byte[]>();
        for (var at = movi + 12; at + 8 <= moviEnd;)
        {
            var size = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(at + 4));
            pictures.Add(file[(at + 8)..(at + 8 + size)]);
            at += 8 + size + (size & 1);
        }

        Assert.Equal(repeats.Count, pictures.Count);
        using var chunks = new MemoryStream();
        using var index = new MemoryStream();
        void Chunk(byte[] data)
        {
            // idx1 offsets count from the 'movi' tag; real pictures are key frames (AVIIF_KEYFRAME = 0x10).
            var offset = 4 + (int)chunks.Length;
            chunks.Write("00dc"u8);
            chunks.Write(LittleEndian(data.Length));
            chunks.Write(data);
            if ((data.Length & 1) == 1)
            {
                chunks.WriteByte(0);
            }

            index.Write("00dc"u8);
            index.Write(LittleEndian(data.Length > 0 ? 0x10 : 0));
            index.Write(LittleEndian(offset));
            index.Write(LittleEndian(data.Length));
        }

        var entries = 0;
        for (var k = 0; k < pictures.Count; k++)
        {
            Chunk(pictures[k]);
            entries++;
            for (var r = 0; r < repeats[k]; r++)
            {
                Chunk([]);
                entries++;
            }
        }

        var head = file[..movi];
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(IndexOf(head, "avih"u8, 0) + 8 + 16), entries); // dwTotalFrames
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(IndexOf(head, "strh"u8, 0) + 8 + 32), entries); // dwLength
        using var output = new MemoryStream();
        output.Write(head);
        output.Write("LIST"u8);
        output.Write(LittleEndian(4 + (int)chunks.Length));
        output.Write("movi"u8);
        chunks.WriteTo(output);
        output.Write("idx1"u8);
        output.Write(LittleEndian((int)index.Length));
        index.WriteTo(output);
        var bytes = output.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), bytes.Length - 8); // the RIFF size
        File.WriteAllBytes(path, bytes);
        return entries;
    }

    /// <summary>Writes <paramref name="path"/>'s first <paramref name="fraction"/> of bytes to <paramref name="truncated"/>.</summary>
    public static void WriteTruncatedCopy(string path, string truncated, double fraction)
    {
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(truncated, bytes[..(int)(bytes.Length * fraction)]);
    }

    /// <summary>An MJPG video in any container FFmpeg writes (e.g. .mkv), through OpenCV's FFmpeg backend.</summary>
    public static void WriteFfmpegVideo(string path, int frames, string fourcc = "MJPG", double fps = 25)
    {
        using var writer = new VideoWriter(
            path, VideoCaptureAPIs.FFMPEG, VideoWriter.FourCC(fourcc[0], fourcc[1], fourcc[2], fourcc[3]), fps, new Size(160, 120));
        Assert.True(writer.IsOpened(), $"OpenCV's FFmpeg backend could not open a {fourcc} writer for {Path.GetExtension(path)}");
        for (var k = 1; k <= frames; k++)
        {
            using var image = new Mat(120, 160, MatType.CV_8UC3, new Scalar(40, 120, 40));
            Cv2.Rectangle(image, new Rect(k % 18 * 8, 40, 16, 16), Scalar.White, -1);
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

    private static int IndexOf(byte[] bytes, ReadOnlySpan<byte> tag, int from)
    {
        var at = bytes.AsSpan(from).IndexOf(tag);
        Assert.True(at >= 0, "the AVI lacks a chunk the test rewrites");
        return from + at;
    }

    private static byte[] LittleEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }
}
