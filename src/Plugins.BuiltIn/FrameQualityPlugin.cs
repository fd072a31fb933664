using System.Globalization;
using CleanRealtime.Plugins.Sdk;
using OpenCvSharp;

namespace CleanRealtime.Plugins.BuiltIn;

/// <summary>
/// Rates each frame: sharpness as the variance of the Laplacian, exposure as the mean luminance and the shares of
/// crushed-black and blown-white pixels; warns about blurry, underexposed and overexposed frames.
/// </summary>
internal sealed class FrameQualityPlugin : IFramePlugin
{
    public const string PluginName = "frame_quality";

    /// <summary>Below this Laplacian variance a frame with visible content is blurry.</summary>
    public const double BlurThreshold = 100;

    /// <summary>A frame whose luminance varies less than this (standard deviation) is flat: no detail to judge.</summary>
    public const double FlatContrast = 4;

    public const double UnderexposedLuminance = 40;

    public const double OverexposedLuminance = 215;

    /// <summary>More than this share of clipped pixels makes a frame under- or overexposed whatever its mean.</summary>
    public const double ClippedShareLimit = 0.5;

    private const int DarkLevel = 5;
    private const int BrightLevel = 250;

    public string Name => PluginName;

    public PluginMetadata Metadata { get; } = new(
        Version: "1.0.0",
        Model: "variance of Laplacian (sharpness) + luminance statistics (exposure)",
        InputShape: [null, null, 3],
        OutputFormat: "{ sharpness, mean_luminance, clipped_dark, clipped_bright, blurry, underexposed, overexposed }; luminance 0..255, clipped 0..1",
        ConfidenceDefault: 1.0,
        Capabilities: ["sharpness", "exposure", "warnings", "cpu"]);

    /// <summary>Parallel: each frame is analysed on its own: sessions hold no state between frames.</summary>
    public PluginConcurrency Concurrency => PluginConcurrency.Parallel;

    public IPluginSession OpenSession(PluginSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Session();
    }

    private sealed class Session : IPluginSession
    {
        public object Analyze(VideoFrame frame, PluginFrameContext context)
        {
            ArgumentNullException.ThrowIfNull(frame);
            ArgumentNullException.ThrowIfNull(context);

            using var gray = new Mat();
            using var laplacian = new Mat();
            Cv2.CvtColor(frame.Image, gray, ColorConversionCodes.BGR2GRAY);
            Cv2.Laplacian(gray, laplacian, MatType.CV_64F);
            Cv2.MeanStdDev(laplacian, out _, out var laplacianDeviation);
            Cv2.MeanStdDev(gray, out var luminanceMean, out var luminanceDeviation);

            var total = (double)gray.Rows * gray.Cols;
            var sharpness = Math.Round(laplacianDeviation.Val0 * laplacianDeviation.Val0, 1);
            var luminance = Math.Round(luminanceMean.Val0, 1);
            var clippedDark = Math.Round(CountInRange(gray, 0, DarkLevel) / total, 4);
            var clippedBright = Math.Round(CountInRange(gray, BrightLevel, 255) / total, 4);

            var blurry = sharpness < BlurThreshold && luminanceDeviation.Val0 >= FlatContrast;
            var underexposed = luminance < UnderexposedLuminance || clippedDark > ClippedShareLimit;
            var overexposed = luminance > OverexposedLuminance || clippedBright > ClippedShareLimit;

            if (blurry)
            {
                context.Warn(Format($"blurry frame (sharpness {sharpness:0.0})"), WarningSeverity.Medium);
            }

            if (underexposed)
            {
                context.Warn(Format($"underexposed frame (mean luminance {luminance:0.0})"), WarningSeverity.Medium);
            }

            if (overexposed)
            {
                context.Warn(Format($"overexposed frame (mean luminance {luminance:0.0})"), WarningSeverity.Medium);
            }

            return new FrameQualityResult(sharpness, luminance, clippedDark, clippedBright, blurry, underexposed, overexposed);
        }

        public void Dispose()
        {
        }

        private static int CountInRange(Mat gray, int low, int high)
        {
            using var inRange = new Mat();
            Cv2.InRange(gray, new Scalar(low), new Scalar(high), inRange);
            return Cv2.CountNonZero(inRange);
        }

        private static string Format(FormattableString message) => message.ToString(CultureInfo.InvariantCulture);
    }
}

public sealed record FrameQualityResult(
    double Sharpness,
    double MeanLuminance,
    double ClippedDark,
    double ClippedBright,
    bool Blurry,
    bool Underexposed,
    bool Overexposed);
