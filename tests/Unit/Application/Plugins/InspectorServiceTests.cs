using System.Text.Json;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.UnitTests.Application.Execution;
using CleanRealtime.Application.Realtime.Validation;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Application.Realtime;
using CleanRealtime.UnitTests.Application.TestDoubles;
using Microsoft.Extensions.Time.Testing;

using CleanRealtime.Plugins.BuiltIn;
using CleanRealtime.Plugins.Sdk;
using Sdk = CleanRealtime.Plugins.Sdk;
using WarningSeverity = CleanRealtime.Domain.Realtime.WarningSeverity;

namespace CleanRealtime.UnitTests.Application.Plugins;

public sealed class InspectorServiceTests
{
    private static IFramePlugin[] BuiltInPlugins() =>
    [
        new BallDetectionPlugin(), new FrameQualityPlugin(), new MotionDetectionPlugin(), new PitchDetectionPlugin(), new PlayerDetectionPlugin(),
    ];

    // ---- 5.1 ----
    // The inspector's tallies are seen through what the runner publishes: each frame's timing, each warning, and each
    // plugin's final plugin_status (its total time and its warnings count).

    [Fact]
    public void InspectorServiceCreates()
    {
        var inspector = new InspectorService();

        // Usable at once: it takes a measurement and a warning for any plugin.
        Assert.Equal(12.5, inspector.RecordTiming("p", 12.5), 6);
        inspector.RecordWarning("p");
        Assert.Equal(12.5, inspector.TotalMs("p"), 6);
        Assert.Equal(1, inspector.WarningCount("p"));
    }

    [Fact]
    public async Task InspectorServiceEmptyState()
    {
        var inspector = new InspectorService();
        Assert.Equal(0, inspector.TotalMs("ball_detection"));
        Assert.Equal(0, inspector.WarningCount("ball_detection"));

        // A job whose plugin never runs a frame reports nothing measured and nothing warned.
        using var h = RunnerHarness.Create([TestPlugin.Crashing("crash", 1)], frames: 2, jobs: OneAtATime());
        await h.RunAsync();
        var failed = Assert.Single(h.Published.Of<PluginStatusPayload>(), s => s.Status == PluginRunStatus.Failed);
        Assert.Equal((0.0, 0, 0), (failed.TimingMs, failed.FramesProcessed, failed.WarningsCount));
    }

    // ---- 5.2 ----

    [Fact]
    public async Task InspectorStartTiming()
    {
        // The timer starts right before the plugin's call: time spent before it (decoding, other plugins) is not counted.
        var clock = new FakeTimeProvider();
        var before = new TestPlugin("before", (frame, _) =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(7));
            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = RunnerHarness.Create([before, TestPlugin.Slow("timed", clock, TimeSpan.FromMilliseconds(30))], frames: 2, time: clock, jobs: OneAtATime());

        await h.RunAsync();

        Assert.All(FrameTimings(h, "timed"), ms => Assert.Equal(30, ms, 6));
        Assert.All(FrameTimings(h, "before"), ms => Assert.Equal(7, ms, 6));
    }

    [Fact]
    public async Task InspectorStopTiming()
    {
        var clock = new FakeTimeProvider();
        using var h = RunnerHarness.Create([TestPlugin.Slow("p", clock, TimeSpan.FromTicks(125_000))], frames: 1, time: clock, jobs: OneAtATime());

        await h.RunAsync();

        // The timing is returned as a float of milliseconds, on the frame and in the plugin's total.
        Assert.Equal(12.5, Assert.Single(FrameTimings(h, "p")), 6);
        Assert.Equal(12.5, Completed(h, "p").TimingMs, 6);
    }

    [Fact]
    public async Task InspectorTimingAccuracy()
    {
        // At 1 GHz (the Stopwatch frequency on Linux) and at 1 kHz: the conversion uses the clock's frequency.
        foreach (var frequency in new long[] { 1_000_000_000, 1_000, TimeSpan.TicksPerSecond })
        {
            var clock = new SplitClock(frequency);
            var plugin = new TestPlugin("slow", (frame, _) =>
            {
                clock.AdvanceMonotonic(TimeSpan.FromMilliseconds(100));
                return new EchoResult(frame.Index, frame.Image.Width);
            });
            using var h = RunnerHarness.Create([plugin], frames: 1, time: clock, jobs: OneAtATime());

            await h.RunAsync();

            Assert.InRange(Assert.Single(FrameTimings(h, "slow")), 90, 110);
        }
    }

    [Fact]
    public async Task InspectorTimingStored()
    {
        var clock = new FakeTimeProvider();
        var steps = new[] { 10, 20, 30 };
        var ball = new TestPlugin("ball_detection", (frame, _) =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(steps[frame.Index - 1]));
            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = RunnerHarness.Create([ball, TestPlugin.Slow("motion_detection", clock, TimeSpan.FromMilliseconds(5))], frames: 3, time: clock, jobs: OneAtATime());

        await h.RunAsync();

        // Every measurement is kept, per plugin, and adds up in the plugin's total.
        Assert.Equal([10.0, 20, 30], FrameTimings(h, "ball_detection"));
        Assert.Equal(60, Completed(h, "ball_detection").TimingMs, 6);
        Assert.Equal([5.0, 5, 5], FrameTimings(h, "motion_detection"));
        Assert.Equal(15, Completed(h, "motion_detection").TimingMs, 6);
    }

    [Fact]
    public async Task InspectorTimingMonotonic()
    {
        var clock = new SplitClock();
        var plugin = new TestPlugin("p", (frame, _) =>
        {
            switch (frame.Index)
            {
                case 1:
                    // The wall clock jumps back an hour (NTP, an operator) while 40 ms really pass: the timing is 40 ms.
                    clock.SetWallClock(clock.GetUtcNow().AddHours(-1));
                    clock.AdvanceMonotonic(TimeSpan.FromMilliseconds(40));
                    break;
                case 2:
                    // The wall clock jumps a day ahead while no time passes: the timing is 0, not a day.
                    clock.SetWallClock(clock.GetUtcNow().AddDays(1));
                    break;
                default:
                    clock.SetWallClock(clock.GetUtcNow().AddMinutes(frame.Index % 2 == 0 ? -7 : 3));
                    clock.AdvanceMonotonic(TimeSpan.FromMilliseconds(2));
                    break;
            }

            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = RunnerHarness.Create([plugin], frames: 52, time: clock, jobs: OneAtATime());

        await h.RunAsync();

        var timings = FrameTimings(h, "p");
        Assert.Equal(52, timings.Count);
        Assert.Equal(40, timings[0], 6);
        Assert.Equal(0, timings[1], 6);
        Assert.All(timings.Skip(2), ms => Assert.Equal(2, ms, 6));
        Assert.Equal(40 + 0 + (50 * 2), Completed(h, "p").TimingMs, 6);
    }

    // ---- 5.3 ----

    [Fact]
    public void InspectorMetadataExtracted()
    {
        var plugin = new BallDetectionPlugin();

        var metadata = InspectorService.Inspect(plugin);

        Assert.NotNull(metadata);
        Assert.Same(plugin.Metadata, metadata);
    }

    [Fact]
    public void InspectorMetadataFields()
    {
        var serializer = new MessageSerializer();
        var validator = new RealtimeMessageValidator();

        foreach (var plugin in BuiltInPlugins())
        {
            var metadata = InspectorService.Inspect(plugin);

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
    }

    [Fact]
    public void InspectorMetadataAccuracy()
    {
        var plugin = new StubPlugin("tiny_detector", new PluginMetadata("2.3.1", "tiny-yolo v2", [640, 640, 3], "{ boxes }", 0.35, ["boxes", "gpu"]));

        var metadata = InspectorService.Inspect(plugin);

        Assert.Equal("2.3.1", metadata.Version);
        Assert.Equal("tiny-yolo v2", metadata.Model);
        Assert.Equal([640, 640, 3], metadata.InputShape);
        Assert.Equal("{ boxes }", metadata.OutputFormat);
        Assert.Equal(0.35, metadata.ConfidenceDefault);
        Assert.Equal(["boxes", "gpu"], metadata.Capabilities);

        // Each built-in plugin: what the inspector reports is exactly what the plugin declares.
        foreach (var builtIn in BuiltInPlugins())
        {
            Assert.Equal(builtIn.Metadata, InspectorService.Inspect(builtIn));
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
    public async Task Inspect_PluginWithoutVersionOrModel_IsRefusedAndNotStarted(string version, string model)
    {
        Assert.Throws<InvalidOperationException>(() => InspectorService.Inspect(new StubPlugin("bad", new PluginMetadata(version, model, [], "{}", 0.5, []))));

        // In a job: the plugin fails to start (no session opened), the others run.
        var bad = new TestPlugin("bad", (frame, _) => new EchoResult(frame.Index, frame.Image.Width)) { Metadata = new PluginMetadata(version, model, [], "{}", 0.5, []) };
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), bad], frames: 2);
        await h.RunAsync();
        Assert.Equal(0, bad.SessionsOpened);
        Assert.Contains(h.Published.Of<ErrorPayload>(), e => e.Plugin == "bad" && e.Details!.ErrorCode == ErrorCodes.PluginCrash);
        Assert.Equal(JobStatus.Completed, h.Job.Status);
    }

    // ---- 5.4 ----

    [Fact]
    public async Task InspectorWarningRecorded()
    {
        using var h = RunnerHarness.Create([TestPlugin.Warning("frame_quality", "frame is blurry"), TestPlugin.Echo("ball_detection")], frames: 1);

        await h.RunAsync();

        var warning = Assert.Single(h.Published.Of<WarningPayload>());
        Assert.Equal(("frame_quality", "frame is blurry", WarningSeverity.High, "frame-000001"), (warning.Plugin, warning.Message, warning.Severity, warning.FrameId));
        Assert.Equal(1, Completed(h, "frame_quality").WarningsCount);
        Assert.Equal(0, Completed(h, "ball_detection").WarningsCount);
        Assert.Equal(["frame_quality: frame is blurry (frame-000001)"], h.Job.Warnings);
    }

    [Fact]
    public async Task InspectorWarningsAccumulated()
    {
        var quality = new TestPlugin("frame_quality", (frame, context) =>
        {
            context.Warn(frame.Index == 1 ? "blurry" : "dark", frame.Index == 1 ? Sdk.WarningSeverity.Medium : Sdk.WarningSeverity.High);
            return new EchoResult(frame.Index, frame.Image.Width);
        });
        var ball = new TestPlugin("ball_detection", (frame, context) =>
        {
            if (frame.Index == 1)
            {
                context.Warn("no ball", Sdk.WarningSeverity.Low);
            }

            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = RunnerHarness.Create([quality, ball], frames: 2);

        await h.RunAsync();

        Assert.Equal(
            [("frame_quality", "blurry"), ("ball_detection", "no ball"), ("frame_quality", "dark")],
            h.Published.Of<WarningPayload>().Select(w => (w.Plugin, w.Message)));
        Assert.Equal(2, Completed(h, "frame_quality").WarningsCount);
        Assert.Equal(1, Completed(h, "ball_detection").WarningsCount);
    }

    [Fact]
    public async Task InspectorWarningsNotDeduplicated()
    {
        var twice = new TestPlugin("frame_quality", (frame, context) =>
        {
            context.Warn("blurry", Sdk.WarningSeverity.Medium);
            context.Warn("blurry", Sdk.WarningSeverity.Medium);
            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = RunnerHarness.Create([twice], frames: 1);

        await h.RunAsync();

        var warnings = h.Published.Of<WarningPayload>();
        Assert.Equal(2, warnings.Count);
        Assert.Equal(warnings[0], warnings[1]);
        Assert.Equal(2, Completed(h, "frame_quality").WarningsCount);
    }

    private static JobsOptions OneAtATime() => new() { PipelineParallelism = 1 };

    private static List<double> FrameTimings(RunnerHarness h, string plugin) =>
        [.. h.Published.Of<FramePayload>().Where(f => f.Plugin == plugin).Select(f => f.TimingMs)];

    private static PluginStatusPayload Completed(RunnerHarness h, string plugin) =>
        Assert.Single(h.Published.Of<PluginStatusPayload>(), s => s.Plugin == plugin && s.Status == PluginRunStatus.Completed);

    private sealed class StubPlugin(string name, PluginMetadata metadata) : IFramePlugin
    {
        public string Name => name;

        public PluginMetadata Metadata => metadata;

        public IPluginSession OpenSession(PluginSessionOptions options) => throw new NotSupportedException();
    }
}
