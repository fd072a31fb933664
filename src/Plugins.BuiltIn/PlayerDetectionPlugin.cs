using CleanRealtime.Plugins.Sdk;
using OpenCvSharp;

namespace CleanRealtime.Plugins.BuiltIn;

/// <summary>Finds upright people with OpenCV's HOG descriptor and its default linear-SVM people detector.</summary>
internal sealed class PlayerDetectionPlugin : IFramePlugin
{
    public const string PluginName = "player_detection";

    public string Name => PluginName;

    public PluginMetadata Metadata { get; } = new(
        Version: "1.0.0",
        Model: "OpenCV HOG descriptor + default linear-SVM people detector (64x128 window, multi-scale)",
        InputShape: [null, null, 3],
        OutputFormat: "{ players: [{ x, y, width, height, confidence }], count }; pixel boxes, confidence 0..1",
        ConfidenceDefault: 0.5,
        Capabilities: ["person_detection", "bounding_boxes", "multi_scale", "cpu"]);

    /// <summary>Parallel: each frame is analysed on its own: sessions hold no state between frames.</summary>
    public PluginConcurrency Concurrency => PluginConcurrency.Parallel;

    public IPluginSession OpenSession(PluginSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Session();
    }

    private sealed class Session : IPluginSession
    {
        /// <summary>Wider frames are shrunk to this width first; the detector's cost grows with the pixel count.</summary>
        private const int MaxWorkingWidth = 960;

        private const double MaxOverlap = 0.4;

        private readonly HOGDescriptor _hog = new();

        public Session() => _hog.SetSVMDetector(HOGDescriptor.GetDefaultPeopleDetector());

        public object Analyze(VideoFrame frame, PluginFrameContext context)
        {
            ArgumentNullException.ThrowIfNull(frame);
            var image = frame.Image;
            var scale = image.Width > MaxWorkingWidth ? (double)MaxWorkingWidth / image.Width : 1.0;

            Rect[] boxes;
            double[] weights;
            if (scale < 1.0)
            {
                using var small = new Mat();
                Cv2.Resize(image, small, new Size(0, 0), scale, scale, InterpolationFlags.Area);
                boxes = Detect(small, out weights);
            }
            else
            {
                boxes = Detect(image, out weights);
            }

            var players = new List<DetectedPlayer>(boxes.Length);
            for (var i = 0; i < boxes.Length; i++)
            {
                var box = ToFrame(boxes[i], scale, image.Width, image.Height);
                if (box.Width > 0 && box.Height > 0)
                {
                    var weight = i < weights.Length ? weights[i] : 0;
                    players.Add(new DetectedPlayer(box.X, box.Y, box.Width, box.Height, Math.Round(Squash(weight), 3)));
                }
            }

            var kept = SuppressOverlaps(players);
            return new PlayerDetectionResult(kept, kept.Count);
        }

        public void Dispose() => _hog.Dispose();

        private Rect[] Detect(Mat image, out double[] weights)
        {
            // No person fits a frame smaller than the detection window, and OpenCV's HOG crashes the process
            // (a native segmentation fault, not an exception) on frames much shorter than the window.
            var window = _hog.WinSize;
            if (image.Width < window.Width || image.Height < window.Height)
            {
                weights = [];
                return [];
            }

            return _hog.DetectMultiScale(
                image,
                out weights,
                hitThreshold: 0,
                winStride: new Size(8, 8),
                padding: new Size(8, 8),
                scale: 1.05,
                groupThreshold: 2);
        }

        /// <summary>
        /// Greedy non-maximum suppression: the detector's own grouping leaves shifted duplicates of one person,
        /// so a box overlapping a more confident one by more than <see cref="MaxOverlap"/> (IoU) is dropped.
        /// </summary>
        private static List<DetectedPlayer> SuppressOverlaps(List<DetectedPlayer> players)
        {
            var kept = new List<DetectedPlayer>(players.Count);
            foreach (var candidate in players.OrderByDescending(p => p.Confidence))
            {
                if (!kept.Exists(k => IntersectionOverUnion(k, candidate) > MaxOverlap))
                {
                    kept.Add(candidate);
                }
            }

            return kept;
        }

        private static double IntersectionOverUnion(DetectedPlayer a, DetectedPlayer b)
        {
            var width = Math.Min(a.X + a.Width, b.X + b.Width) - Math.Max(a.X, b.X);
            var height = Math.Min(a.Y + a.Height, b.Y + b.Height) - Math.Max(a.Y, b.Y);
            if (width <= 0 || height <= 0)
            {
                return 0;
            }

            var intersection = (double)width * height;
            return intersection / (((double)a.Width * a.Height) + ((double)b.Width * b.Height) - intersection);
        }

        /// <summary>The SVM margin (0 at the decision boundary, ~3 for a clear person) squashed to 0..1.</summary>
        private static double Squash(double weight) => 1.0 / (1.0 + Math.Exp(-weight));

        private static Rect ToFrame(Rect box, double scale, int width, int height)
        {
            var left = Math.Clamp((int)Math.Round(box.X / scale), 0, width);
            var top = Math.Clamp((int)Math.Round(box.Y / scale), 0, height);
            var right = Math.Clamp((int)Math.Round((box.X + box.Width) / scale), 0, width);
            var bottom = Math.Clamp((int)Math.Round((box.Y + box.Height) / scale), 0, height);
            return new Rect(left, top, right - left, bottom - top);
        }
    }
}

public sealed record PlayerDetectionResult(IReadOnlyList<DetectedPlayer> Players, int Count);

public sealed record DetectedPlayer(int X, int Y, int Width, int Height, double Confidence);
