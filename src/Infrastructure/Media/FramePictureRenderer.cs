using System.Globalization;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Media;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>
/// Decodes one frame of a job's source again and draws the job's results on it: a synthetic scene is rendered anew
/// (its pixels depend only on its settings and the index), an image is read, a video is sought to the frame with
/// <c>CAP_PROP_POS_FRAMES</c> (the position is checked after the seek; only when the backend cannot seek is the video
/// decoded forward from its start).
/// </summary>
public sealed partial class FramePictureRenderer(FrameSourceFactory sources, ILogger<FramePictureRenderer> logger) : IFramePictureRenderer
{
    /// <summary>BGR colours per plugin, chosen to be told apart from grass, lines, kits and each other.</summary>
    public static readonly Scalar PlayerColour = new(0, 255, 255);   // yellow
    public static readonly Scalar MotionColour = new(255, 0, 255);   // magenta
    public static readonly Scalar BallColour = new(0, 0, 255);       // red
    public static readonly Scalar PitchColour = new(255, 160, 0);    // blue

    private const int JpegQuality = 85;
    private const int Thickness = 2;

    /// <summary>Motion regions narrower than this are drawn without a label, which would hide them.</summary>
    private const int MinLabelledWidth = 40;

    public byte[] RenderJpeg(string source, int index, IReadOnlyDictionary<string, JsonElement>? results, int? width)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(index, 1);
        using var decoded = Decode(source, index);
        var scale = width is { } w && w < decoded.Width ? w / (double)decoded.Width : 1.0;

        // Drawn on the decoded frame itself when it keeps its size: a 4K frame is 24 MB, a copy of it another 24.
        using var resized = scale < 1.0 ? Resized(decoded, scale) : null;
        var picture = resized ?? decoded;
        if (results is not null)
        {
            foreach (var (plugin, data) in results)
            {
                Draw(picture, plugin, data, scale);
            }
        }

        Cv2.ImEncode(".jpg", picture, out var jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, JpegQuality));
        return jpeg;
    }

    private Mat Decode(string source, int index)
    {
        if (SyntheticSceneSettings.IsSynthetic(source))
        {
            if (!SyntheticSceneSettings.TryParse(source, out var settings, out var error))
            {
                throw new GoneException($"The job's source can no longer be read: {error}");
            }

            if (index > settings.Frames)
            {
                throw new GoneException($"The job's source has no frame {index}.");
            }

            using var scene = new SyntheticSource(settings);
            return scene.RenderFrame(index);
        }

        var path = FrameSourceFactory.CheckName(source) is null ? sources.Resolve(source) : null;
        if (path is null)
        {
            throw new GoneException($"The job's source '{source}' is no longer in the media root.");
        }

        if (VideoFileSource.IsImage(path))
        {
            var image = Cv2.ImRead(path, ImreadModes.Color);
            if (image.Empty() || index != 1)
            {
                image.Dispose();
                throw new GoneException($"The job's source '{source}' no longer has a readable frame {index}.");
            }

            return image;
        }

        return Seek(path, source, index);
    }

    private Mat Seek(string path, string source, int index)
    {
        using var capture = Open(path, source);
        var target = index - 1;
        var sought = target == 0 || capture.Set(VideoCaptureProperties.PosFrames, target);
        var position = (int)Math.Round(capture.Get(VideoCaptureProperties.PosFrames));
        if (sought && position == target)
        {
            return ReadAt(capture, source, index, position);
        }

        // The backend could not seek, or landed elsewhere: decode forward from the start on a fresh capture.
        LogSeekFallback(source, index, position);
        using var fresh = Open(path, source);
        return ReadAt(fresh, source, index, 0);
    }

    private static VideoCapture Open(string path, string source)
    {
        var capture = new VideoCapture(path, VideoCaptureAPIs.FFMPEG);
        if (!capture.IsOpened())
        {
            capture.Dispose();
            throw new GoneException($"The job's source '{source}' can no longer be opened.");
        }

        return capture;
    }

    /// <summary>Grabs from <paramref name="position"/> up to frame <paramref name="index"/> (1-based) and decodes it.</summary>
    private static Mat ReadAt(VideoCapture capture, string source, int index, int position)
    {
        for (; position < index - 1; position++)
        {
            if (!capture.Grab())
            {
                throw new GoneException(string.Create(CultureInfo.InvariantCulture, $"The job's source '{source}' no longer has frame {index}."));
            }
        }

        var frame = new Mat();
        if (!capture.Read(frame) || frame.Empty())
        {
            frame.Dispose();
            throw new GoneException(string.Create(CultureInfo.InvariantCulture, $"The job's source '{source}' no longer has frame {index}."));
        }

        return VideoFileSource.ToBgr(frame);
    }

    private static Mat Resized(Mat image, double scale)
    {
        var size = new Size(Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale)));
        var resized = new Mat();
        Cv2.Resize(image, resized, size, interpolation: InterpolationFlags.Area);
        return resized;
    }

    private static void Draw(Mat picture, string plugin, JsonElement data, double scale)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        switch (plugin)
        {
            case "player_detection":
                foreach (var box in Items(data, "players"))
                {
                    DrawBox(picture, box, scale, PlayerColour, "player " + Number(box, "confidence").ToString("0.00", CultureInfo.InvariantCulture));
                }

                break;
            case "motion_detection":
                foreach (var box in Items(data, "regions"))
                {
                    DrawBox(picture, box, scale, MotionColour, Number(box, "width") * scale >= MinLabelledWidth ? "motion" : null);
                }

                break;
            case "ball_detection":
                foreach (var ball in Items(data, "balls"))
                {
                    var centre = new Point(Number(ball, "x") * scale, Number(ball, "y") * scale);
                    var radius = Math.Max(3, (int)Math.Round(Number(ball, "radius") * scale));
                    Cv2.Circle(picture, centre, radius + Thickness, BallColour, Thickness, LineTypes.AntiAlias);
                    Label(picture, "ball", new Point(centre.X + radius + 4, centre.Y), BallColour);
                }

                break;
            case "pitch_detection":
                var corners = Items(data, "corners").Select(c => new Point(Number(c, "x") * scale, Number(c, "y") * scale)).ToArray();
                if (corners.Length >= 3)
                {
                    Cv2.Polylines(picture, [corners], isClosed: true, PitchColour, Thickness, LineTypes.AntiAlias);
                    Label(picture, "pitch", new Point(corners.Min(c => c.X) + 4, corners.Min(c => c.Y) + 14), PitchColour);
                }

                break;
        }
    }

    private static void DrawBox(Mat picture, JsonElement box, double scale, Scalar colour, string? label)
    {
        var rect = new Rect(
            (int)Math.Round(Number(box, "x") * scale), (int)Math.Round(Number(box, "y") * scale),
            Math.Max(1, (int)Math.Round(Number(box, "width") * scale)), Math.Max(1, (int)Math.Round(Number(box, "height") * scale)));
        Cv2.Rectangle(picture, rect, colour, Thickness, LineTypes.Link8);
        if (label is not null)
        {
            Label(picture, label, new Point(rect.X, Math.Max(10, rect.Y - 4)), colour);
        }
    }

    private static void Label(Mat picture, string text, Point at, Scalar colour)
    {
        Cv2.PutText(picture, text, at, HersheyFonts.HersheySimplex, 0.4, Scalar.Black, 3, LineTypes.AntiAlias);
        Cv2.PutText(picture, text, at, HersheyFonts.HersheySimplex, 0.4, colour, 1, LineTypes.AntiAlias);
    }

    private static IEnumerable<JsonElement> Items(JsonElement data, string property) =>
        data.TryGetProperty(property, out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object)
            : [];

    private static double Number(JsonElement item, string property) =>
        item.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : 0;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not seek {Source} to frame {Index} (position {Position}); decoding forward from the start")]
    private partial void LogSeekFallback(string source, int index, int position);
}
