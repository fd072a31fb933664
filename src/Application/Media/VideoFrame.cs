using OpenCvSharp;

namespace CleanRealtime.Application.Media;

/// <summary>One decoded frame (BGR, 8-bit), owned by the runner: plugins read it and must not dispose it.</summary>
public sealed class VideoFrame(int index, double timestampMs, Mat image) : IDisposable
{
    /// <summary>1-based position in the source.</summary>
    public int Index { get; } = index;

    public double TimestampMs { get; } = timestampMs;

    public Mat Image { get; } = image;

    /// <summary>Its id (<c>frame-000042</c>), formatted once: every plugin's outcome and warning of the frame names it.</summary>
    public string FrameId => field ??= Domain.Jobs.FrameResult.IdFor(Index);

    public void Dispose() => Image.Dispose();
}
