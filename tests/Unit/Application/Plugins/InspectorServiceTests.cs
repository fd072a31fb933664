using System.Text.Json;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Application.Realtime.Validation;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Plugins;
using CleanRealtime.Application.Realtime;
using CleanRealtime.UnitTests.Application.TestDoubles;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.UnitTests.Application.Plugins;

public sealed class InspectorServiceTests
{
    private readonly FakeTimeProvider _time = new();

    private InspectorService Create() => new(_time);

    private static IFramePlugin[] BuiltInPlugins() =>
    [
        new BallDetectionPlugin(), new FrameQualityPlugin(), new MotionDetectionPlugin(), new PitchDetectionPlugin(), new PlayerDetectionPlugin(),
    ];

    // ---- 5.1 ----

    [Fact]
    public void InspectorServiceCreates()
    {
        var withSystemClock = new InspectorService(TimeProvider.System);
        var withFakeClock = new InspectorService(_time);

        Assert.True(withSystemClock.IsEmpty);
        Assert.True(withFakeClock.IsEmpty);

        // A fresh instance is usable at once with the real clock.
        withSystemClock.StartTiming("p");
        Assert.InRange(withSystemClock.StopTiming("p"), 0, 5_000);
    }

    [Fact]
    public void InspectorServiceEmptyState()
    {
        var inspector = Create();

        Assert.True(inspector.IsEmpty);
        Assert.Empty(inspector.Timings);
        Assert.Empty(inspector.Warnings);
        Assert.Empty(inspector.Metadata);
        Assert.Equal(0, inspector.TotalMs("ball_detection"));
        Assert.Equal(0, inspector.WarningCount("ball_detection"));

        // Each kind of data makes it non-empty.
        inspector.RecordWarning("p", "w", WarningSeverity.Low);
        Assert.False(inspector.IsEmpty);
        var other = Create();
        other.Inspect(new BallDetectionPlugin());
        Assert.False(other.IsEmpty);
    }

    // ---- 5.2 ----

    [Fact]
    public void InspectorStartTiming()
    {
        var inspector = Create();

        inspector.StartTiming("ball_detection");

        Assert.False(inspector.IsEmpty); // a measurement is running
        Assert.Empty(inspector.Timings); // but nothing is finished yet
        _time.Advance(TimeSpan.FromMilliseconds(30));
        Assert.Equal(30, inspector.StopTiming("ball_detection"), 6);
        Assert.False(inspector.IsEmpty);

        // Nothing else was started, and a plugin needs a name.
        Assert.Throws<InvalidOperationException>(() => inspector.StopTiming("motion_detection"));
        Assert.ThrowsAny<ArgumentException>(() => inspector.StartTiming(""));
    }

    [Fact]
    public void InspectorStopTiming()
    {
        var inspector = Create();
        inspector.StartTiming("ball_detection");
        _time.Advance(TimeSpan.FromTicks(125_000)); // 12.5 ms

        double elapsed = inspector.StopTiming("ball_detection");

        Assert.Equal(12.5, elapsed, 6);
        var stats = inspector.Timings["ball_detection"];
        Assert.Equal(1, stats.Count);
        Assert.Equal(12.5, stats.LastMs, 6);

        // A stopped measurement cannot be stopped again.
        Assert.Throws<InvalidOperationException>(() => inspector.StopTiming("ball_detection"));
    }

    [Fact]
    public void InspectorTimingAccuracy()
    {
        var inspector = Create();
        inspector.StartTiming("slow");
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.InRange(inspector.StopTiming("slow"), 90, 110);

        // Same with a clock ticking at 1 GHz (the Stopwatch frequency on Linux): the conversion uses the clock's frequency.
        var clock = new SplitClock(frequency: 1_000_000_000);
        var gigahertz = new InspectorService(clock);
        gigahertz.StartTiming("slow");
        clock.AdvanceMonotonic(TimeSpan.FromMilliseconds(100));
        Assert.InRange(gigahertz.StopTiming("slow"), 90, 110);

        // And at 1 kHz.
        var coarse = new SplitClock(frequency: 1_000);
        var kilohertz = new InspectorService(coarse);
        kilohertz.StartTiming("slow");
        coarse.AdvanceMonotonic(TimeSpan.FromMilliseconds(100));
        Assert.InRange(kilohertz.StopTiming("slow"), 90, 110);
    }

    [Fact]
    public void InspectorTimingStored()
    {
        var inspector = Create();
        foreach (var ms in new[] { 10, 20, 30 })
        {
            inspector.StartTiming("ball_detection");
            _time.Advance(TimeSpan.FromMilliseconds(ms));
            inspector.StopTiming("ball_detection");
        }

        inspector.StartTiming("motion_detection");
        _time.Advance(TimeSpan.FromMilliseconds(5));
        inspector.StopTiming("motion_detection");

        Assert.Equal(2, inspector.Timings.Count);
        var ball = inspector.Timings["ball_detection"];
        Assert.Equal(3, ball.Count);
        Assert.Equal(60, ball.TotalMs, 6);
        Assert.Equal(30, ball.LastMs, 6);
        Assert.Equal(60, inspector.TotalMs("ball_detection"), 6);
        var motion = inspector.Timings["motion_detection"];
        Assert.Equal(1, motion.Count);
        Assert.Equal(5, motion.TotalMs, 6);
    }

    [Fact]
    public void InspectorTimingStored_OverlappingMeasurementsOfTwoPlugins_AreKeptApart()
    {
        var inspector = Create();

        inspector.StartTiming("a");
        _time.Advance(TimeSpan.FromMilliseconds(10));
        inspector.StartTiming("b");
        _time.Advance(TimeSpan.FromMilliseconds(5));
        var b = inspector.StopTiming("b");
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var a = inspector.StopTiming("a");

        Assert.Equal(5, b, 6);
        Assert.Equal(16, a, 6);
    }

    [Fact]
    public void InspectorTimingMonotonic()
    {
        var clock = new SplitClock();
        var inspector = new InspectorService(clock);

        // The wall clock jumps back an hour (NTP, an operator) while 40 ms really pass: the timing is 40 ms.
        inspector.StartTiming("p");
        clock.SetWallClock(clock.GetUtcNow().AddHours(-1));
        clock.AdvanceMonotonic(TimeSpan.FromMilliseconds(40));
        Assert.Equal(40, inspector.StopTiming("p"), 6);

        // The wall clock jumps a day ahead while no time passes: the timing is 0, not a day.
        inspector.StartTiming("p");
        clock.SetWallClock(clock.GetUtcNow().AddDays(1));
        Assert.Equal(0, inspector.StopTiming("p"), 6);

        // Many measurements in a row never go negative and add up exactly.
        for (var i = 0; i < 50; i++)
        {
            inspector.StartTiming("p");
            clock.SetWallClock(clock.GetUtcNow().AddMinutes(i % 2 == 0 ? -7 : 3));
            clock.AdvanceMonotonic(TimeSpan.FromMilliseconds(2));
            Assert.True(inspector.StopTiming("p") >= 0);
        }

        var stats = inspector.Timings["p"];
        Assert.Equal(52, stats.Count);
        Assert.Equal(40 + 0 + (50 * 2), stats.TotalMs, 6);
    }

    // ---- 5.3 ----

    [Fact]
    public void InspectorMetadataExtracted()
    {
        var inspector = Create();
        var plugin = new BallDetectionPlugin();

        var metadata = inspector.Inspect(plugin);

        Assert.NotNull(metadata);
        Assert.Same(metadata, inspector.Metadata["ball_detection"]);
        Assert.Equal(["ball_detection"], inspector.Metadata.Keys);
    }

    [Fact]
    public void InspectorMetadataFields()
    {
        var inspector = Create();
        var serializer = new MessageSerializer();
        var validator = new RealtimeMessageValidator();

        foreach (var plugin in BuiltInPlugins())
        {
            var metadata = inspector.Inspect(plugin);

            Assert.False(string.IsNullOrWhiteSpace(metadata.Version), plugin.Name);
            Assert.False(string.IsNullOrWhiteSpace(metadata.Model), plugin.Name);
            Assert.False(string.IsNullOrWhiteSpace(metadata.OutputFormat), plugin.Name);
            Assert.NotEmpty(metadata.InputShape);
            Assert.InRange(metadata.ConfidenceDefault, 0, 1);
            Assert.NotEmpty(metadata.Capabilities);

            // As sent to clients: the metadata message passes its schema and has every documented field.
            var message = new RealtimeMessage(plugin.ToMetadataPayload(), DateTimeOffset.UtcNow);
            Assert.True(validator.Validate(message).IsValid, plugin.Name);
            using var document = JsonDocument.Parse(serializer.Serialize(message));
            var payload = document.RootElement.GetProperty("payload");
            Assert.Equal(plugin.Name, payload.GetProperty("plugin").GetString());
            Assert.Equal(
                ["version", "model", "input_shape", "output_format", "confidence_default", "capabilities"],
                payload.GetProperty("metadata").EnumerateObject().Select(p => p.Name));
        }

        Assert.Equal(BuiltInPlugins().Select(p => p.Name).Order(StringComparer.Ordinal), inspector.Metadata.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void InspectorMetadataAccuracy()
    {
        var inspector = Create();
        var plugin = new StubPlugin("tiny_detector", new PluginMetadata("2.3.1", "tiny-yolo v2", [640, 640, 3], "{ boxes }", 0.35, ["boxes", "gpu"]));

        var metadata = inspector.Inspect(plugin);

        Assert.Equal("2.3.1", metadata.Version);
        Assert.Equal("tiny-yolo v2", metadata.Model);
        Assert.Equal([640, 640, 3], metadata.InputShape);
        Assert.Equal("{ boxes }", metadata.OutputFormat);
        Assert.Equal(0.35, metadata.ConfidenceDefault);
        Assert.Equal(["boxes", "gpu"], metadata.Capabilities);

        // Each built-in plugin: what the inspector reports is exactly what the plugin declares.
        foreach (var builtIn in BuiltInPlugins())
        {
            Assert.Equal(builtIn.Metadata, inspector.Inspect(builtIn));
        }

        // The metadata message carries the same values.
        var sent = plugin.ToMetadataPayload().Metadata;
        Assert.Equal((metadata.Version, metadata.Model, metadata.OutputFormat, metadata.ConfidenceDefault), (sent.Version, sent.Model, sent.OutputFormat, sent.ConfidenceDefault));
        Assert.Equal(metadata.InputShape, sent.InputShape);
        Assert.Equal(metadata.Capabilities, sent.Capabilities);
    }

    [Theory]
    [InlineData("", "model")]
    [InlineData("1.0.0", " ")]
    public void Inspect_PluginWithoutVersionOrModel_IsRefusedAndNotStored(string version, string model)
    {
        var inspector = Create();

        Assert.Throws<InvalidOperationException>(() => inspector.Inspect(new StubPlugin("bad", new PluginMetadata(version, model, [], "{}", 0.5, []))));

        Assert.Empty(inspector.Metadata);
    }

    // ---- 5.4 ----

    [Fact]
    public void InspectorWarningRecorded()
    {
        var inspector = Create();

        var warning = inspector.RecordWarning("frame_quality", "frame is blurry", WarningSeverity.High, "frame-000007");

        Assert.Equal(new InspectedWarning("frame_quality", "frame is blurry", WarningSeverity.High, "frame-000007"), warning);
        Assert.Equal(warning, Assert.Single(inspector.Warnings));
        Assert.Equal(1, inspector.WarningCount("frame_quality"));
        Assert.Equal(0, inspector.WarningCount("ball_detection"));
        Assert.Equal("frame_quality: frame is blurry (frame-000007)", warning.ToString());
        Assert.Equal("frame_quality: dark", inspector.RecordWarning("frame_quality", "dark", WarningSeverity.Low).ToString());
    }

    [Fact]
    public void InspectorWarningsAccumulated()
    {
        var inspector = Create();

        inspector.RecordWarning("frame_quality", "blurry", WarningSeverity.Medium, "frame-000001");
        inspector.RecordWarning("ball_detection", "no ball", WarningSeverity.Low, "frame-000001");
        inspector.RecordWarning("frame_quality", "dark", WarningSeverity.High, "frame-000002");

        Assert.Equal(
            [("frame_quality", "blurry"), ("ball_detection", "no ball"), ("frame_quality", "dark")],
            inspector.Warnings.Select(w => (w.Plugin, w.Message)));
        Assert.Equal(2, inspector.WarningCount("frame_quality"));
        Assert.Equal(1, inspector.WarningCount("ball_detection"));
    }

    [Fact]
    public void InspectorWarningsNotDeduplicated()
    {
        var inspector = Create();

        inspector.RecordWarning("frame_quality", "blurry", WarningSeverity.Medium, "frame-000001");
        inspector.RecordWarning("frame_quality", "blurry", WarningSeverity.Medium, "frame-000001");

        Assert.Equal(2, inspector.Warnings.Count);
        Assert.Equal(inspector.Warnings[0], inspector.Warnings[1]);
        Assert.Equal(2, inspector.WarningCount("frame_quality"));
    }

    private sealed class StubPlugin(string name, PluginMetadata metadata) : IFramePlugin
    {
        public string Name => name;

        public PluginMetadata Metadata => metadata;

        public IPluginSession OpenSession(PluginSessionOptions options) => throw new NotSupportedException();
    }
}
