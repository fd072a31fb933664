using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using CleanRealtime.Application.Media;
using OpenCvSharp;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>The parameters of a <c>synthetic:pitch?frames=&amp;fps=&amp;width=&amp;height=&amp;seed=</c> source.</summary>
public sealed record SyntheticSceneSettings(int Frames, int Fps, int Width, int Height, int Seed)
{
    public const string Prefix = "synthetic:";

    private const int MaxQuotedLength = 40;

    private static readonly string[] Scenes = ["pitch"];

    private static readonly ParameterLimit[] Limits =
    [
        new("frames", 1, 100_000),
        new("fps", 0, 240),
        new("width", 64, 3840),
        new("height", 64, 2160),
        new("seed", int.MinValue, int.MaxValue),
    ];

    public static SyntheticSceneSettings Default { get; } = new(Frames: 120, Fps: 0, Width: 640, Height: 360, Seed: 1);

    public static bool IsSynthetic(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.StartsWith(Prefix, StringComparison.Ordinal);
    }

    public static SyntheticSceneSettings Parse(string source) =>
        TryParse(source, out var settings, out var error) ? settings : throw new FormatException(error);

    /// <summary>Reads a synthetic source string; on failure <paramref name="error"/> says why, fit for a 400.</summary>
    public static bool TryParse(
        string source,
        [NotNullWhen(true)] out SyntheticSceneSettings? settings,
        [NotNullWhen(false)] out string? error)
    {
        settings = null;
        if (!IsSynthetic(source))
        {
            error = $"synthetic sources start with '{Prefix}'";
            return false;
        }

        var control = IndexOfControlCharacter(source);
        if (control >= 0)
        {
            error = string.Create(
                CultureInfo.InvariantCulture,
                $"synthetic source must not contain control characters (found U+{(int)source[control]:X4} at position {control})");
            return false;
        }

        if (source.IndexOf('%', StringComparison.Ordinal) is var percent and >= 0)
        {
            error = string.Create(
                CultureInfo.InvariantCulture,
                $"synthetic source must not contain '%' (at position {percent}): parameters are plain text, not percent-encoded");
            return false;
        }

        var body = source[Prefix.Length..];
        var queryStart = body.IndexOf('?', StringComparison.Ordinal);
        var scene = queryStart < 0 ? body : body[..queryStart];
        if (!Scenes.Contains(scene, StringComparer.Ordinal))
        {
            error = $"unknown synthetic scene '{Quote(scene)}'; allowed: {string.Join(", ", Scenes)}";
            return false;
        }

        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        var query = queryStart < 0 ? string.Empty : body[(queryStart + 1)..];
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? part : part[..equals];
            var limit = Array.Find(Limits, l => string.Equals(l.Name, name, StringComparison.Ordinal));
            if (limit is null)
            {
                error = $"unknown synthetic parameter '{Quote(name)}'; allowed: {string.Join(", ", Limits.Select(l => l.Name))}";
                return false;
            }

            if (equals < 0)
            {
                error = $"synthetic parameter '{name}' needs a value, e.g. '{name}=1'";
                return false;
            }

            var raw = part[(equals + 1)..];
            if (!int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                error = $"synthetic parameter '{name}' must be a whole number (got '{Quote(raw)}')";
                return false;
            }

            if (value < limit.Min || value > limit.Max)
            {
                error = string.Create(
                    CultureInfo.InvariantCulture,
                    $"synthetic parameter '{name}' must be between {limit.Min} and {limit.Max} (got {value})");
                return false;
            }

            if (!values.TryAdd(name, value))
            {
                error = $"synthetic parameter '{name}' is given more than once";
                return false;
            }
        }

        settings = new SyntheticSceneSettings(
            values.GetValueOrDefault("frames", Default.Frames),
            values.GetValueOrDefault("fps", Default.Fps),
            values.GetValueOrDefault("width", Default.Width),
            values.GetValueOrDefault("height", Default.Height),
            values.GetValueOrDefault("seed", Default.Seed));
        error = null;
        return true;
    }

    private static int IndexOfControlCharacter(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsControl(text[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Quote(string text) =>
        text.Length <= MaxQuotedLength ? text : string.Concat(text.AsSpan(0, MaxQuotedLength), "…");

    private sealed record ParameterLimit(string Name, int Min, int Max);
}

/// <summary>
/// A generated football scene: a striped pitch with white markings, 4–6 running players drawn big enough for a
/// HOG people detector, and a white ball on a smooth known path. Pixels depend only on the settings and the
/// frame index (same seed ⇒ same pixels); with <c>fps &gt; 0</c> frames are paced like a live camera.
/// </summary>
public sealed class SyntheticSource : IFrameSource
{
    /// <summary>Scene time runs at this rate whatever the pacing, so motion is the same at every fps.</summary>
    private const double SceneFps = 30;

    private static readonly Scalar GrassLight = new(52, 138, 56);
    private static readonly Scalar GrassDark = new(44, 122, 48);
    private static readonly Scalar LineWhite = new(245, 245, 245);
    private static readonly Scalar BallWhite = new(255, 255, 255);
    private static readonly Scalar Skin = new(120, 160, 205);
    private static readonly Scalar Hair = new(30, 40, 50);
    private static readonly Scalar ShortsWhite = new(235, 235, 235);
    private static readonly Scalar RefereeBlack = new(30, 30, 30);

    private static readonly Scalar[] TeamColours =
    [
        new(40, 30, 170),   // red
        new(130, 45, 25),   // navy
        new(20, 110, 210),  // orange
        new(120, 30, 120),  // purple
        new(60, 90, 20),    // teal
    ];

    private readonly SyntheticSceneSettings _settings;
    private readonly Mat _pitch;
    private readonly Player[] _players;
    private readonly double _ballPhaseX;
    private readonly double _ballPhaseY;
    private int _readStarted;
    private bool _disposed;

    public SyntheticSource(SyntheticSceneSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        BallRadius = Math.Max(5, (int)Math.Round(settings.Height / 40.0));

        var random = new Random(settings.Seed);
        _ballPhaseX = random.NextDouble() * 2 * Math.PI;
        _ballPhaseY = random.NextDouble() * 2 * Math.PI;
        _players = CreatePlayers(random);
        _pitch = DrawPitch(settings.Width, settings.Height);
    }

    public SyntheticSceneSettings Settings => _settings;

    public int? FrameCount => _settings.Frames;

    public double Fps => _settings.Fps;

    public int BallRadius { get; }

    /// <summary>Where the ball's centre is drawn on frame <paramref name="index"/> (1-based), in pixels.</summary>
    public Point2d BallCenterAt(int index)
    {
        var t = index / SceneFps;
        var x = _settings.Width * (0.5 + (0.36 * Math.Sin((2 * Math.PI * t / 5.3) + _ballPhaseX)));
        var y = _settings.Height * (0.5 + (0.30 * Math.Sin((2 * Math.PI * t / 3.7) + _ballPhaseY)));
        return new Point2d(x, y);
    }

    /// <summary>The timestamp given to frame <paramref name="index"/>: index / fps, with 30 fps when unpaced.</summary>
    public static double TimestampFor(int index, int fps) => Math.Round(index * 1000.0 / (fps > 0 ? fps : SceneFps), 1);

    /// <summary>Draws frame <paramref name="index"/> (1-based) into a new BGR image the caller owns.</summary>
    public Mat RenderFrame(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(index, 1);

        var image = _pitch.Clone();
        var t = index / SceneFps;
        foreach (var player in _players.OrderBy(p => p.FeetAt(t, _settings.Height)))
        {
            DrawPlayer(image, player, t);
        }

        var ball = BallCenterAt(index);
        Cv2.Circle(image, ToPoint(ball.X, ball.Y), BallRadius, BallWhite, -1, LineTypes.AntiAlias);
        return image;
    }

    public async IAsyncEnumerable<VideoFrame> ReadFramesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _readStarted, 1) != 0)
        {
            throw new InvalidOperationException("The frames of a source can be read only once.");
        }

        var clock = Stopwatch.StartNew();
        for (var index = 1; index <= _settings.Frames; index++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_settings.Fps > 0)
            {
                var due = TimeSpan.FromSeconds((index - 1) / (double)_settings.Fps);
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }
            }

            yield return new VideoFrame(index, TimestampFor(index, _settings.Fps), RenderFrame(index));
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _pitch.Dispose();
    }

    private static Player[] CreatePlayers(Random random)
    {
        var count = random.Next(4, 7);
        var home = TeamColours[random.Next(TeamColours.Length)];
        var away = TeamColours[(Array.IndexOf(TeamColours, home) + 1 + random.Next(TeamColours.Length - 1)) % TeamColours.Length];
        var players = new Player[count];
        for (var i = 0; i < count; i++)
        {
            var kit = i == count - 1 && count >= 5 ? RefereeBlack : i % 2 == 0 ? home : away;
            players[i] = new Player(
                BaseX: (i + 0.5) / count,
                SwayX: 0.3 / count * (0.6 + (0.4 * random.NextDouble())),
                PeriodSeconds: 3 + (2 * random.NextDouble()),
                Phase: random.NextDouble() * 2 * Math.PI,
                BaseFeetY: 0.70 + (0.16 * random.NextDouble()),
                HeightRatio: 0.36 + (0.08 * random.NextDouble()),
                Kit: kit);
        }

        return players;
    }

    private static Mat DrawPitch(int width, int height)
    {
        var pitch = new Mat(height, width, MatType.CV_8UC3, GrassLight);
        const int Stripes = 12;
        for (var i = 1; i < Stripes; i += 2)
        {
            var left = i * width / Stripes;
            var right = (i + 1) * width / Stripes;
            Cv2.Rectangle(pitch, new Rect(left, 0, right - left, height), GrassDark, -1);
        }

        var thickness = Math.Max(1, (int)Math.Round(height / 180.0));
        var margin = Math.Max(2, (int)Math.Round(height / 18.0));
        Cv2.Rectangle(pitch, new Rect(margin, margin, width - (2 * margin), height - (2 * margin)), LineWhite, thickness, LineTypes.AntiAlias);
        Cv2.Line(pitch, new Point(width / 2, margin), new Point(width / 2, height - margin), LineWhite, thickness, LineTypes.AntiAlias);
        Cv2.Circle(pitch, new Point(width / 2, height / 2), height / 6, LineWhite, thickness, LineTypes.AntiAlias);
        Cv2.Circle(pitch, new Point(width / 2, height / 2), thickness, LineWhite, -1, LineTypes.AntiAlias);

        var boxWidth = (int)Math.Round(width * 0.12);
        var boxHeight = (int)Math.Round(height * 0.44);
        var boxTop = (height - boxHeight) / 2;
        Cv2.Rectangle(pitch, new Rect(margin, boxTop, boxWidth, boxHeight), LineWhite, thickness, LineTypes.AntiAlias);
        Cv2.Rectangle(pitch, new Rect(width - margin - boxWidth, boxTop, boxWidth, boxHeight), LineWhite, thickness, LineTypes.AntiAlias);
        return pitch;
    }

    private void DrawPlayer(Mat image, Player player, double t)
    {
        var h = _settings.Height * player.HeightRatio;
        var fx = _settings.Width * (player.BaseX + (player.SwayX * Math.Sin((2 * Math.PI * t / player.PeriodSeconds) + player.Phase)));
        var fy = player.FeetAt(t, _settings.Height);
        var top = fy - h;
        var stride = Math.Sin((t * 2 * Math.PI * 1.6) + player.Phase);
        var legThickness = Math.Max(2, (int)(0.075 * h));
        var armThickness = Math.Max(2, (int)(0.055 * h));

        Cv2.Line(image, ToPoint(fx - (0.05 * h), top + (0.55 * h)), ToPoint(fx - (0.07 * h) + (0.08 * h * stride), fy - (0.02 * h)), player.Kit, legThickness, LineTypes.AntiAlias);
        Cv2.Line(image, ToPoint(fx + (0.05 * h), top + (0.55 * h)), ToPoint(fx + (0.07 * h) - (0.08 * h * stride), fy - (0.02 * h)), player.Kit, legThickness, LineTypes.AntiAlias);

        Point[] torso =
        [
            ToPoint(fx - (0.13 * h), top + (0.16 * h)),
            ToPoint(fx + (0.13 * h), top + (0.16 * h)),
            ToPoint(fx + (0.10 * h), top + (0.47 * h)),
            ToPoint(fx - (0.10 * h), top + (0.47 * h)),
        ];
        Cv2.FillConvexPoly(image, torso, player.Kit, LineTypes.AntiAlias);
        Cv2.Rectangle(image, ToPoint(fx - (0.105 * h), top + (0.45 * h)), ToPoint(fx + (0.105 * h), top + (0.58 * h)), ShortsWhite, -1, LineTypes.AntiAlias);

        Cv2.Line(image, ToPoint(fx - (0.12 * h), top + (0.18 * h)), ToPoint(fx - (0.17 * h) - (0.05 * h * stride), top + (0.47 * h)), player.Kit, armThickness, LineTypes.AntiAlias);
        Cv2.Line(image, ToPoint(fx + (0.12 * h), top + (0.18 * h)), ToPoint(fx + (0.17 * h) + (0.05 * h * stride), top + (0.47 * h)), player.Kit, armThickness, LineTypes.AntiAlias);

        var headRadius = Math.Max(2, (int)(0.07 * h));
        Cv2.Circle(image, ToPoint(fx, top + (0.08 * h)), headRadius, Skin, -1, LineTypes.AntiAlias);
        Cv2.Ellipse(image, ToPoint(fx, top + (0.06 * h)), new Size(headRadius, Math.Max(1, (int)(0.045 * h))), 0, 180, 360, Hair, -1, LineTypes.AntiAlias);
    }

    private static Point ToPoint(double x, double y) => new((int)Math.Round(x), (int)Math.Round(y));

    private sealed record Player(
        double BaseX,
        double SwayX,
        double PeriodSeconds,
        double Phase,
        double BaseFeetY,
        double HeightRatio,
        Scalar Kit)
    {
        public double FeetAt(double t, int frameHeight) =>
            frameHeight * (BaseFeetY + (0.05 * Math.Sin((2 * Math.PI * t / (PeriodSeconds * 1.3)) + (Phase * 0.7))));
    }
}
