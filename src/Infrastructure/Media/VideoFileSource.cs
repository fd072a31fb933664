using System.Globalization;
using CleanRealtime.Application.Media;
using OpenCvSharp;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>
/// A video file decoded with OpenCV's FFmpeg backend, or a still image read as a single frame. The first frame
/// is decoded when the source opens, so a file OpenCV cannot read, or one shorter than its container declares,
/// fails at <see cref="Open"/> rather than mid-job.
/// </summary>
/// <remarks>
/// The video ends when the decoder has no more frames. <see cref="FrameCount"/> is the container's figure, a hint
/// for progress only: an AVI whose index holds zero-size repeat frames (e.g. 444 entries for 68 pictures) or a
/// variable-frame-rate file decodes fewer frames than it, completely and correctly.
/// </remarks>
internal sealed class VideoFileSource : IFrameSource
{
    private const double FallbackFps = 30;

    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp",
    };

    private readonly string _name;
    private readonly VideoCapture? _capture;
    private Mat? _firstFrame;
    private int _readStarted;
    private bool _disposed;

    private VideoFileSource(string name, VideoCapture? capture, Mat firstFrame, int? frameCount, double fps)
    {
        _name = name;
        _capture = capture;
        _firstFrame = firstFrame;
        FrameCount = frameCount;
        Fps = fps;
        Width = firstFrame.Width;
        Height = firstFrame.Height;
    }

    public int? FrameCount { get; }

    public double Fps { get; }

    /// <summary>The width of the first frame, in pixels.</summary>
    public int Width { get; }

    public int Height { get; }

    /// <summary>True for a still image (one frame), false for a video.</summary>
    public bool IsStill => _capture is null;

    public static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path));

    /// <summary>Opens <paramref name="path"/>; <paramref name="name"/> is how errors refer to it (never the full path).</summary>
    public static VideoFileSource Open(string path, string name)
    {
        try
        {
            return IsImage(path) ? OpenImage(path, name) : OpenVideo(path, name);
        }
        catch (OpenCVException ex)
        {
            throw new SourceUnreadableException($"source '{name}' could not be decoded: {ex.Message}", ex);
        }
        catch (OpenCvSharpException ex)
        {
            throw new SourceUnreadableException($"source '{name}' could not be decoded: {ex.Message}", ex);
        }
    }

    public IAsyncEnumerable<VideoFrame> ReadFramesAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _readStarted, 1) != 0)
        {
            throw new InvalidOperationException("The frames of a source can be read only once.");
        }

        return ReadFrames(cancellationToken).ToAsyncEnumerable();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _firstFrame?.Dispose();
        _firstFrame = null;
        _capture?.Release();
        _capture?.Dispose();
    }

    private static VideoFileSource OpenImage(string path, string name)
    {
        var image = Cv2.ImRead(path, ImreadModes.Color);
        if (image.Empty())
        {
            image.Dispose();
            throw new SourceUnreadableException($"source '{name}' is not a readable image");
        }

        return new VideoFileSource(name, capture: null, image, frameCount: 1, fps: 0);
    }

    private static VideoFileSource OpenVideo(string path, string name)
    {
        RefuseIfTruncated(path, name);
        var capture = new VideoCapture(path, VideoCaptureAPIs.FFMPEG);
        Mat? first = null;
        try
        {
            if (!capture.IsOpened())
            {
                throw new SourceUnreadableException($"source '{name}' is not a video OpenCV can open (corrupt or unsupported format)");
            }

            first = new Mat();
            if (!capture.Read(first) || first.Empty())
            {
                throw new SourceUnreadableException($"source '{name}' contains no decodable frames");
            }

            var count = capture.Get(VideoCaptureProperties.FrameCount);
            var fps = capture.Get(VideoCaptureProperties.Fps);
            var source = new VideoFileSource(
                name,
                capture,
                ToBgr(first),
                count is > 0 and < int.MaxValue ? (int)count : null,
                double.IsFinite(fps) && fps > 0 ? fps : 0);
            first = null;
            return source;
        }
        catch
        {
            first?.Dispose();
            capture.Dispose();
            throw;
        }
    }

    /// <summary>Refuses a file shorter than its container declares (see <see cref="ContainerLength"/>).</summary>
    private static void RefuseIfTruncated(string path, string name)
    {
        long? declared;
        long actual;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            actual = file.Length;
            declared = ContainerLength.Declared(file);
        }
        catch (IOException ex)
        {
            // Not ex.Message: it names the full path, which clients never see.
            throw new SourceUnreadableException($"source '{name}' could not be read", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SourceUnreadableException($"source '{name}' could not be read: permission denied", ex);
        }

        if (declared > actual)
        {
            throw new SourceUnreadableException(string.Create(
                CultureInfo.InvariantCulture,
                $"source '{name}' is truncated: its container declares {declared} bytes but the file holds {actual}"));
        }
    }

    private IEnumerable<VideoFrame> ReadFrames(CancellationToken cancellationToken)
    {
        var frameMs = 1000.0 / (Fps > 0 ? Fps : FallbackFps);
        var index = 0;
        var previousMs = 0.0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(_disposed, this);

            Mat? image;
            if (_firstFrame is not null)
            {
                image = _firstFrame;
                _firstFrame = null;
            }
            else
            {
                image = ReadNext(index);
            }

            if (image is null)
            {
                yield break;
            }

            index++;
            var timestamp = TimestampOf(index, frameMs, previousMs);
            previousMs = timestamp;
            yield return new VideoFrame(index, timestamp, image);
        }
    }

    /// <summary>The next decoded frame, or null when the decoder has no more.</summary>
    private Mat? ReadNext(int framesRead)
    {
        if (_capture is null)
        {
            return null;
        }

        var image = new Mat();
        bool read;
        try
        {
            read = _capture.Read(image) && !image.Empty();
        }
        catch (OpenCVException ex)
        {
            image.Dispose();
            throw new SourceUnreadableException($"source '{_name}' failed to decode after frame {framesRead}: {ex.Message}", ex);
        }

        if (read)
        {
            return ToBgr(image);
        }

        // The decoder has no more frames: that is the end. The container's frame count is not checked here, since
        // repeat-frame and variable-frame-rate files legitimately decode fewer frames than it says; a file cut short
        // was already refused at Open by its declared length.
        image.Dispose();
        return null;
    }

    /// <summary>
    /// Frame n is stamped at the end of its display interval, like the synthetic source (frame 1 at 1000/fps):
    /// the decoder's position (the frame's start) plus one frame, or n/fps when the container gives no position.
    /// </summary>
    private double TimestampOf(int index, double frameMs, double previousMs)
    {
        var position = _capture?.Get(VideoCaptureProperties.PosMsec) ?? 0;
        var timestamp = double.IsFinite(position) && position > 0 ? position + frameMs : index * frameMs;
        if (timestamp <= previousMs)
        {
            timestamp = previousMs + frameMs;
        }

        return Math.Round(timestamp, 1);
    }

    internal static Mat ToBgr(Mat image)
    {
        if (image.Type() == MatType.CV_8UC3)
        {
            return image;
        }

        using (image)
        {
            var bgr = new Mat();
            switch (image.Channels())
            {
                case 1:
                    Cv2.CvtColor(image, bgr, ColorConversionCodes.GRAY2BGR);
                    break;
                case 4:
                    Cv2.CvtColor(image, bgr, ColorConversionCodes.BGRA2BGR);
                    break;
                default:
                    image.CopyTo(bgr);
                    break;
            }

            if (bgr.Depth() != MatType.CV_8U)
            {
                using var wide = bgr;
                var narrow = new Mat();
                wide.ConvertTo(narrow, MatType.CV_8UC3);
                return narrow;
            }

            return bgr;
        }
    }
}
