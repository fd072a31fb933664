using OpenCvSharp;

namespace CleanRealtime.Plugins.Sdk;

/// <summary>
/// One decoded frame: BGR, 8 bits per channel. Owned by the server: a plugin reads it during
/// <see cref="IPluginSession.Analyze"/> and must neither modify, dispose nor keep it.
/// </summary>
public sealed class VideoFrame(int index, double timestampMs, Mat image) : IDisposable
{
    /// <summary>1-based position in the source (for a live source: among the frames analysed).</summary>
    public int Index { get; } = index;

    /// <summary>Presentation time in milliseconds from the start of the source.</summary>
    public double TimestampMs { get; } = timestampMs;

    /// <summary>The pixels (<c>CV_8UC3</c>, BGR).</summary>
    public Mat Image { get; } = image;

    /// <summary>Its id on the wire, <c>frame-000042</c>, formatted once.</summary>
    public string FrameId => field ??= IdFor(Index);

    /// <summary>The wire id of the frame at <paramref name="index"/>.</summary>
    public static string IdFor(int index) => $"frame-{index:D6}";

    /// <summary>Releases the pixels; the server calls it, never a plugin.</summary>
    public void Dispose() => Image.Dispose();
}
