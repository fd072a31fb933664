using CleanRealtime.Plugins.Sdk;
using OpenCvSharp;

namespace CleanRealtime.Plugins.BuiltIn;

/// <summary>
/// Finds a white ball: Hough circle transform (HOUGH_GRADIENT_ALT) on the blurred grey image, each circle then
/// scored by how white its inside is. Keeps the best circle per frame as a trajectory and reports a summary of it
/// every <see cref="PartialEvery"/> frames.
/// </summary>
internal sealed class BallDetectionPlugin : IFramePlugin
{
    public const string PluginName = "ball_detection";

    public const int PartialEvery = 30;

    public string Name => PluginName;

    public PluginMetadata Metadata { get; } = new(
        Version: "1.0.0",
        Model: "OpenCV HoughCircles (HOUGH_GRADIENT_ALT) + HSV whiteness check",
        InputShape: [null, null, 3],
        OutputFormat: "{ balls: [{ x, y, radius, confidence }], count }; pixels, best first; partial: trajectory summary every 30 frames",
        ConfidenceDefault: MinConfidence,
        Capabilities: ["ball_detection", "circles", "trajectory", "partial_results", "cpu"]);

    private const double MinConfidence = 0.5;

    /// <summary>Sequential: the session keeps state across frames, so it must see them in order, one at a time.</summary>
    public PluginConcurrency Concurrency => PluginConcurrency.Sequential;

    public IPluginSession OpenSession(PluginSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Session();
    }

    private sealed class Session : IPluginSession
    {
        private const int MaxBalls = 5;
        private const int RecentPoints = 30;

        private readonly Queue<TrajectoryPoint> _recent = new();
        private TrajectoryPoint? _last;
        private int _framesAnalyzed;
        private int _framesWithBall;
        private int _firstBallFrame;
        private double _pathLength;

        public object Analyze(VideoFrame frame, PluginFrameContext context)
        {
            ArgumentNullException.ThrowIfNull(frame);
            ArgumentNullException.ThrowIfNull(context);

            var balls = Detect(frame.Image);
            _framesAnalyzed++;
            if (balls.Count > 0)
            {
                Track(frame.Index, balls[0]);
            }

            if (_framesAnalyzed % PartialEvery == 0)
            {
                context.ReportPartial(Summary());
            }

            return new BallDetectionResult(balls, balls.Count);
        }

        public void Dispose()
        {
        }

        private static List<DetectedBall> Detect(Mat image)
        {
            var shortSide = Math.Min(image.Width, image.Height);
            var minRadius = Math.Max(3, shortSide / 120);
            var maxRadius = Math.Max(minRadius + 4, shortSide / 15);

            using var gray = new Mat();
            using var blurred = new Mat();
            Cv2.CvtColor(image, gray, ColorConversionCodes.BGR2GRAY);
            Cv2.GaussianBlur(gray, blurred, new Size(5, 5), 1.2);
            var circles = Cv2.HoughCircles(
                blurred,
                HoughModes.GradientAlt,
                dp: 1.5,
                minDist: 2.0 * minRadius,
                param1: 300,
                param2: 0.8,
                minRadius: minRadius,
                maxRadius: maxRadius);
            if (circles.Length == 0)
            {
                return [];
            }

            using var hsv = new Mat();
            using var white = new Mat();
            Cv2.CvtColor(image, hsv, ColorConversionCodes.BGR2HSV);
            Cv2.InRange(hsv, new Scalar(0, 0, 170), new Scalar(180, 70, 255), white);

            var balls = new List<DetectedBall>();
            foreach (var circle in circles)
            {
                var whiteness = Whiteness(white, circle);
                if (whiteness >= MinConfidence)
                {
                    balls.Add(new DetectedBall(
                        (int)Math.Round(circle.Center.X),
                        (int)Math.Round(circle.Center.Y),
                        (int)Math.Round(circle.Radius),
                        Math.Round(whiteness, 3)));
                }
            }

            return [.. balls.OrderByDescending(b => b.Confidence).Take(MaxBalls)];
        }

        /// <summary>The share of white pixels in the inner 80% of the circle (0..1).</summary>
        private static double Whiteness(Mat whiteMask, CircleSegment circle)
        {
            var radius = Math.Max(1, (int)Math.Round(circle.Radius * 0.8));
            var centre = new Point((int)Math.Round(circle.Center.X), (int)Math.Round(circle.Center.Y));
            var bounds = new Rect(centre.X - radius, centre.Y - radius, (2 * radius) + 1, (2 * radius) + 1)
                .Intersect(new Rect(0, 0, whiteMask.Width, whiteMask.Height));
            if (bounds.Width <= 0 || bounds.Height <= 0)
            {
                return 0;
            }

            using var disk = new Mat(bounds.Size, MatType.CV_8UC1, Scalar.Black);
            Cv2.Circle(disk, new Point(centre.X - bounds.X, centre.Y - bounds.Y), radius, Scalar.White, -1);
            var inside = Cv2.CountNonZero(disk);
            if (inside == 0)
            {
                return 0;
            }

            using var region = new Mat(whiteMask, bounds);
            using var whiteInside = new Mat();
            Cv2.BitwiseAnd(region, disk, whiteInside);
            return (double)Cv2.CountNonZero(whiteInside) / inside;
        }

        private void Track(int frameIndex, DetectedBall ball)
        {
            var point = new TrajectoryPoint(frameIndex, ball.X, ball.Y);
            if (_last is { } previous)
            {
                _pathLength += Math.Sqrt(Math.Pow(point.X - previous.X, 2) + Math.Pow(point.Y - previous.Y, 2));
            }
            else
            {
                _firstBallFrame = frameIndex;
            }

            _last = point;
            _framesWithBall++;
            _recent.Enqueue(point);
            if (_recent.Count > RecentPoints)
            {
                _recent.Dequeue();
            }
        }

        private BallTrajectorySummary Summary()
        {
            var span = _last is { } last ? last.Frame - _firstBallFrame : 0;
            return new BallTrajectorySummary(
                FramesAnalyzed: _framesAnalyzed,
                FramesWithBall: _framesWithBall,
                DetectionRate: Math.Round((double)_framesWithBall / _framesAnalyzed, 3),
                PathLengthPx: Math.Round(_pathLength, 1),
                AverageSpeedPxPerFrame: span > 0 ? Math.Round(_pathLength / span, 2) : 0,
                LastPosition: _last,
                RecentPoints: [.. _recent]);
        }
    }
}

public sealed record BallDetectionResult(IReadOnlyList<DetectedBall> Balls, int Count);

public sealed record DetectedBall(int X, int Y, int Radius, double Confidence);

public sealed record TrajectoryPoint(int Frame, int X, int Y);

/// <summary>The ball's path over the frames seen so far (sent as a partial result).</summary>
public sealed record BallTrajectorySummary(
    int FramesAnalyzed,
    int FramesWithBall,
    double DetectionRate,
    double PathLengthPx,
    double AverageSpeedPxPerFrame,
    TrajectoryPoint? LastPosition,
    IReadOnlyList<TrajectoryPoint> RecentPoints);
