using CleanRealtime.Plugins.Sdk;
using OpenCvSharp;

namespace CleanRealtime.Plugins.BuiltIn;

/// <summary>
/// Measures what moves: a per-job MOG2 background model, its foreground mask cleaned with a morphological
/// opening, then the share of moving pixels and the bounding boxes of the moving blobs.
/// </summary>
internal sealed class MotionDetectionPlugin : IFramePlugin
{
    public const string PluginName = "motion_detection";

    public string Name => PluginName;

    public PluginMetadata Metadata { get; } = new(
        Version: "1.0.0",
        Model: "OpenCV BackgroundSubtractorMOG2 (Gaussian mixture background model) + contour regions",
        InputShape: [null, null, 3],
        OutputFormat: "{ motion_ratio, regions: [{ x, y, width, height, area }] }; ratio 0..1 of moving pixels, pixel boxes largest first",
        ConfidenceDefault: 0.5,
        Capabilities: ["motion_detection", "background_subtraction", "regions", "stateful", "cpu"]);

    /// <summary>Sequential: the session keeps state across frames, so it must see them in order, one at a time.</summary>
    public PluginConcurrency Concurrency => PluginConcurrency.Sequential;

    public IPluginSession OpenSession(PluginSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Session();
    }

    private sealed class Session : IPluginSession
    {
        private const int MaxWorkingWidth = 640;
        private const int MaxRegions = 50;

        private readonly BackgroundSubtractorMOG2 _background = BackgroundSubtractorMOG2.Create(history: 300, varThreshold: 25, detectShadows: false);
        private readonly Mat _openKernel = Cv2.GetStructuringElement(MorphShapes.Ellipse, new Size(3, 3));
        private readonly Mat _joinKernel = Cv2.GetStructuringElement(MorphShapes.Ellipse, new Size(7, 7));
        private bool _modelStarted;

        public object Analyze(VideoFrame frame, PluginFrameContext context)
        {
            ArgumentNullException.ThrowIfNull(frame);
            var image = frame.Image;
            var scale = image.Width > MaxWorkingWidth ? (double)MaxWorkingWidth / image.Width : 1.0;

            using var small = new Mat();
            using var mask = new Mat();
            if (scale < 1.0)
            {
                Cv2.Resize(image, small, new Size(0, 0), scale, scale, InterpolationFlags.Area);
                _background.Apply(small, mask);
            }
            else
            {
                _background.Apply(image, mask);
            }

            // The first frame only seeds the model: MOG2 reports every pixel of it as foreground.
            if (!_modelStarted)
            {
                _modelStarted = true;
                return new MotionDetectionResult(0, []);
            }

            using var moving = new Mat();
            Cv2.MorphologyEx(mask, moving, MorphTypes.Open, _openKernel);
            var total = (double)moving.Rows * moving.Cols;
            var ratio = Cv2.CountNonZero(moving) / total;

            using var joined = new Mat();
            Cv2.Dilate(moving, joined, _joinKernel);
            Cv2.FindContours(joined, out var contours, out _, RetrievalModes.External, ContourApproximationModes.ApproxSimple);

            var minArea = Math.Max(20, total * 0.0002);
            var regions = contours
                .Select(c => (Box: Cv2.BoundingRect(c), Area: Cv2.ContourArea(c)))
                .Where(c => c.Area >= minArea)
                .OrderByDescending(c => c.Area)
                .Take(MaxRegions)
                .Select(c => new MotionRegion(
                    (int)Math.Round(c.Box.X / scale),
                    (int)Math.Round(c.Box.Y / scale),
                    (int)Math.Round(c.Box.Width / scale),
                    (int)Math.Round(c.Box.Height / scale),
                    (int)Math.Round(c.Area / (scale * scale))))
                .ToList();

            return new MotionDetectionResult(Math.Round(ratio, 4), regions);
        }

        public void Dispose()
        {
            _background.Dispose();
            _openKernel.Dispose();
            _joinKernel.Dispose();
        }
    }
}

public sealed record MotionDetectionResult(double MotionRatio, IReadOnlyList<MotionRegion> Regions);

public sealed record MotionRegion(int X, int Y, int Width, int Height, int Area);
