using CleanRealtime.Plugins.Sdk;
using OpenCvSharp;

namespace CleanRealtime.Plugins.BuiltIn;

/// <summary>
/// Segments the grass: an HSV green mask closed over the white markings, its share of the frame, and the corners
/// of the largest green area (convex hull simplified with Douglas–Peucker).
/// </summary>
internal sealed class PitchDetectionPlugin : IFramePlugin
{
    public const string PluginName = "pitch_detection";

    public const string NoCornersWarning = "pitch corners not detected";

    public string Name => PluginName;

    public PluginMetadata Metadata { get; } = new(
        Version: "1.0.0",
        Model: "HSV green segmentation + morphological closing + convex hull + approxPolyDP",
        InputShape: [null, null, 3],
        OutputFormat: "{ coverage, corners: [{ x, y }] }; coverage 0..1 of the frame, corners clockwise from the top-left",
        ConfidenceDefault: 0.5,
        Capabilities: ["pitch_segmentation", "coverage", "corners", "warnings", "cpu"]);

    /// <summary>Parallel: each frame is analysed on its own: sessions hold no state between frames.</summary>
    public PluginConcurrency Concurrency => PluginConcurrency.Parallel;

    public IPluginSession OpenSession(PluginSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Session();
    }

    private sealed class Session : IPluginSession
    {
        /// <summary>A green area smaller than this share of the frame is not taken for the pitch.</summary>
        private const double MinPitchShare = 0.05;

        private static readonly Scalar GreenLow = new(35, 40, 40);
        private static readonly Scalar GreenHigh = new(85, 255, 255);

        public object Analyze(VideoFrame frame, PluginFrameContext context)
        {
            ArgumentNullException.ThrowIfNull(frame);
            ArgumentNullException.ThrowIfNull(context);
            var image = frame.Image;

            using var hsv = new Mat();
            using var green = new Mat();
            using var pitch = new Mat();
            Cv2.CvtColor(image, hsv, ColorConversionCodes.BGR2HSV);
            Cv2.InRange(hsv, GreenLow, GreenHigh, green);

            var kernelSize = Math.Max(3, (Math.Min(image.Width, image.Height) / 60) | 1);
            using (var kernel = Cv2.GetStructuringElement(MorphShapes.Ellipse, new Size(kernelSize, kernelSize)))
            {
                Cv2.MorphologyEx(green, pitch, MorphTypes.Close, kernel);
            }

            var total = (double)image.Width * image.Height;
            var coverage = Cv2.CountNonZero(pitch) / total;
            var corners = FindCorners(pitch, total);
            if (corners.Count == 0)
            {
                context.Warn(NoCornersWarning, WarningSeverity.Low);
            }

            return new PitchDetectionResult(Math.Round(coverage, 4), corners);
        }

        public void Dispose()
        {
        }

        private static List<PitchCorner> FindCorners(Mat pitchMask, double total)
        {
            Cv2.FindContours(pitchMask, out var contours, out _, RetrievalModes.External, ContourApproximationModes.ApproxSimple);
            if (contours.Length == 0)
            {
                return [];
            }

            var largest = contours.MaxBy(c => Cv2.ContourArea(c))!;
            if (Cv2.ContourArea(largest) < total * MinPitchShare)
            {
                return [];
            }

            var hull = Cv2.ConvexHull(largest, clockwise: false);
            var polygon = Cv2.ApproxPolyDP(hull, 0.02 * Cv2.ArcLength(hull, closed: true), closed: true);
            if (polygon.Length < 3)
            {
                return [];
            }

            var start = Array.FindIndex(polygon, p => p.X + p.Y == polygon.Min(q => q.X + q.Y));
            return [.. polygon.Skip(start).Concat(polygon.Take(start)).Select(p => new PitchCorner(p.X, p.Y))];
        }
    }
}

public sealed record PitchDetectionResult(double Coverage, IReadOnlyList<PitchCorner> Corners);

public sealed record PitchCorner(int X, int Y);
