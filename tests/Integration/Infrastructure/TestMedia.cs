namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>Media files written by hand, so tests need no codec: plain 24-bit BMP images and deliberately corrupt files.</summary>
public static class TestMedia
{
    /// <summary>A single-colour 24-bit BMP (bottom-up rows, each padded to 4 bytes).</summary>
    public static byte[] SolidBmp(int width, int height, byte red, byte green, byte blue)
    {
        var stride = ((width * 3) + 3) & ~3;
        var pixels = stride * height;
        var bytes = new byte[54 + pixels];
        void Int32At(int offset, int value) => BitConverter.GetBytes(value).CopyTo(bytes, offset);
        void Int16At(int offset, short value) => BitConverter.GetBytes(value).CopyTo(bytes, offset);

        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        Int32At(2, bytes.Length);
        Int32At(10, 54);
        Int32At(14, 40);
        Int32At(18, width);
        Int32At(22, height);
        Int16At(26, 1);
        Int16At(28, 24);
        Int32At(34, pixels);
        Int32At(38, 2835);
        Int32At(42, 2835);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var at = 54 + (y * stride) + (x * 3);
                bytes[at] = blue;
                bytes[at + 1] = green;
                bytes[at + 2] = red;
            }
        }

        return bytes;
    }

    /// <summary>A black frame: frame_quality warns "underexposed", pitch_detection warns "pitch corners not detected".</summary>
    public static byte[] BlackBmp() => SolidBmp(160, 120, 0, 0, 0);

    /// <summary>Random bytes under a video file name: no decoder can open it.</summary>
    public static byte[] Garbage(int length = 64 * 1024, int seed = 7)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
