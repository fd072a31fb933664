using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Validation;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;
using CleanRealtime.UnitTests.Application.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

using CleanRealtime.Plugins.Sdk;
using Sdk = CleanRealtime.Plugins.Sdk;
using WarningSeverity = CleanRealtime.Domain.Realtime.WarningSeverity;

namespace CleanRealtime.UnitTests.Application.Execution;

public sealed class ToolRunnerTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(5);

    // ---- 6.1 execution ----

    [Fact]
    public async Task ToolRunnerExecutesPlugin()
    {
        var echo = TestPlugin.Echo("echo");
        using var h = RunnerHarness.Create([echo], frames: 3);

        await h.RunAsync();

        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.Equal(["frame-000001", "frame-000002", "frame-000003"], h.Job.Frames.Select(f => f.FrameId));
        for (var i = 0; i < 3; i++)
        {
            var result = Assert.Single(h.Job.Frames[i].Results);
            Assert.Equal("echo", result.Key);
            Assert.Equal(i + 1, result.Value.GetProperty("frame_index").GetInt32());
            Assert.Equal(8, result.Value.GetProperty("width").GetInt32());
            Assert.Equal((i + 1) * 40.0, h.Job.Frames[i].TimestampMs);
        }

        // The source is opened once and the plugin gets one session for the job, disposed at the end.
        h.Sources.Received(1).Open(h.Job.Source);
        Assert.Equal(1, echo.SessionsOpened);
        Assert.Equal(1, echo.SessionsDisposed);
        Assert.Equal(new PluginSessionOptions { JobId = h.Job.Id, Fps = 0, FrameCount = 3 }, echo.LastOptions);
        await h.Repository.Received().SaveAsync(Arg.Is<JobMemento>(m => m.Status == JobStatus.Completed && m.Frames.Count == 3), Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task ToolRunnerMeasuresTiming()
    {
        var clock = new FakeTimeProvider();
        using var h = RunnerHarness.Create(
            [TestPlugin.Slow("slow", clock, TimeSpan.FromMilliseconds(25)), TestPlugin.Slow("quick", clock, TimeSpan.FromMilliseconds(2.5))],
            frames: 4, time: clock, jobs: OneAtATime());

        await h.RunAsync();

        // Each frame's timing is the time spent in that plugin on that frame, in ms.
        var frames = h.Published.Of<FramePayload>();
        Assert.All(frames.Where(f => f.Plugin == "slow"), f => Assert.Equal(25, f.TimingMs, 6));
        Assert.All(frames.Where(f => f.Plugin == "quick"), f => Assert.Equal(2.5, f.TimingMs, 6));

        // Totals: in the job, and in the final plugin_status.
        Assert.Equal(4, frames.Count(f => f.Plugin == "slow"));
        Assert.Equal(100, h.Job.PluginTimings["slow"], 6);
        Assert.Equal(10, h.Job.PluginTimings["quick"], 6);
        var completed = h.Published.Of<PluginStatusPayload>().Where(s => s.Status == PluginRunStatus.Completed).ToDictionary(s => s.Plugin, s => s.TimingMs);
        Assert.Equal(100, completed["slow"], 6);
        Assert.Equal(10, completed["quick"], 6);
    }

    [Fact]
    public async Task ToolRunnerCapturesWarnings()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), TestPlugin.Warning("warner", "low light")], frames: 3);

        await h.RunAsync();

        // Published in order, the same warning once per frame (never de-duplicated).
        var warnings = h.Published.Of<WarningPayload>();
        Assert.Equal(
            [("warner", "low light", "frame-000001"), ("warner", "low light", "frame-000002"), ("warner", "low light", "frame-000003")],
            warnings.Select(w => (w.Plugin, w.Message, w.FrameId)));
        Assert.All(warnings, w => Assert.Equal(WarningSeverity.High, w.Severity));

        // The job keeps them too, and the final plugin_status counts them.
        Assert.Equal(
            ["warner: low light (frame-000001)", "warner: low light (frame-000002)", "warner: low light (frame-000003)"], h.Job.Warnings);
        var status = Assert.Single(h.Published.Of<PluginStatusPayload>(), s => s.Plugin == "warner" && s.Status == PluginRunStatus.Completed);
        Assert.Equal(3, status.WarningsCount);
        Assert.Equal(0, Assert.Single(h.Published.Of<PluginStatusPayload>(), s => s.Plugin == "echo" && s.Status == PluginRunStatus.Completed).WarningsCount);
        Assert.Equal(JobStatus.Completed, h.Job.Status);
    }

    // ---- 6.2 message emission ----

    [Fact]
    public async Task ToolRunnerEmitsProgress()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 4);

        await h.RunAsync();

        var progress = h.Published.Of<ProgressPayload>();
        Assert.Equal([0, 25, 50, 75, 99, 100], progress.Select(p => p.Progress));
        Assert.Equal(["started", "analyzing", "analyzing", "analyzing", "analyzing", "completed"], progress.Select(p => p.Stage));
        Assert.All(progress, p => Assert.Equal(h.Job.Id, p.JobId));
        Assert.Equal(100, h.Job.Progress);
    }

    [Fact]
    public async Task ToolRunnerEmitsProgress_OnlyWhenTheIntegerPercentageChanges()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 250);

        await h.RunAsync();

        var values = h.Published.Of<ProgressPayload>().Select(p => p.Progress).ToList();
        Assert.Equal(values.Distinct().Count(), values.Count);
        Assert.Equal(values.Order(), values);
        Assert.Equal(0, values[0]);
        Assert.Equal(99, values[^2]);
        Assert.Equal(100, values[^1]);
        Assert.True(values.Count < 250, "one progress message per frame would flood subscribers");
    }

    [Fact]
    public async Task ToolRunnerEmitsProgress_FrameCountUnknown_ReportsStartAndEndOnly()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 5, frameCountKnown: false);

        await h.RunAsync();

        Assert.Equal([0, 100], h.Published.Of<ProgressPayload>().Select(p => p.Progress));
        Assert.Equal(5, h.Job.Frames.Count);
    }

    [Fact]
    public async Task ToolRunnerEmitsFrame()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("first"), TestPlugin.Echo("second")], frames: 3);

        await h.RunAsync();

        var frames = h.Published.Of<FramePayload>();
        Assert.Equal(
            [("frame-000001", "first"), ("frame-000001", "second"), ("frame-000002", "first"), ("frame-000002", "second"),
             ("frame-000003", "first"), ("frame-000003", "second")],
            frames.Select(f => (f.FrameId, f.Plugin)));
        Assert.All(frames, f =>
        {
            Assert.Equal(h.Job.Id, f.JobId);
            Assert.Equal("cpu", f.DeviceUsed);
            Assert.Equal(JsonValueKind.Object, f.Data.ValueKind);
            Assert.Equal(int.Parse(f.FrameId[^6..], System.Globalization.CultureInfo.InvariantCulture), f.Data.GetProperty("frame_index").GetInt32());
        });

        // What was sent is what the job recorded.
        Assert.All(frames, f => Assert.True(JsonElement.DeepEquals(f.Data, h.Job.Frames.Single(r => r.FrameId == f.FrameId).Results[f.Plugin])));
    }

    [Fact]
    public async Task ToolRunnerEmitsPluginStatus()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("first"), TestPlugin.Echo("second")], frames: 3);

        await h.RunAsync();

        var payloads = h.Published.Payloads;
        var statuses = h.Published.Of<PluginStatusPayload>();
        Assert.Equal(
            [("first", PluginRunStatus.Started), ("second", PluginRunStatus.Started), ("first", PluginRunStatus.Completed), ("second", PluginRunStatus.Completed)],
            statuses.Select(s => (s.Plugin, s.Status)));
        Assert.All(statuses, s => Assert.Equal(h.Job.Id, s.JobId));
        Assert.All(statuses.Where(s => s.Status == PluginRunStatus.Started), s => Assert.Equal(0, s.FramesProcessed));
        Assert.All(statuses.Where(s => s.Status == PluginRunStatus.Completed), s => Assert.Equal(3, s.FramesProcessed));

        // Started before any frame, completed after the last one.
        var firstFrame = payloads.ToList().FindIndex(p => p is FramePayload);
        var lastFrame = payloads.ToList().FindLastIndex(p => p is FramePayload);
        Assert.All(statuses.Where(s => s.Status == PluginRunStatus.Started), s => Assert.True(IndexOf(payloads, s) < firstFrame));
        Assert.All(statuses.Where(s => s.Status == PluginRunStatus.Completed), s => Assert.True(IndexOf(payloads, s) > lastFrame));
    }

    [Fact]
    public async Task ToolRunnerEmitsWarning()
    {
        using var h = RunnerHarness.Create([TestPlugin.Warning("warner", "low light", Sdk.WarningSeverity.Low), TestPlugin.Echo("echo")], frames: 2);

        await h.RunAsync();

        var warnings = h.Published.Of<WarningPayload>();
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w =>
        {
            Assert.Equal("warner", w.Plugin);
            Assert.Equal("low light", w.Message);
            Assert.Equal(WarningSeverity.Low, w.Severity);
            Assert.Equal(h.Job.Id, w.JobId);
        });
        Assert.Equal(["frame-000001", "frame-000002"], warnings.Select(w => w.FrameId));

        // Each warning follows its own frame message, before the next plugin's result.
        var payloads = h.Published.Payloads;
        foreach (var warning in warnings)
        {
            var previous = Assert.IsType<FramePayload>(payloads[IndexOf(payloads, warning) - 1]);
            Assert.Equal((warning.FrameId, "warner"), (previous.FrameId, previous.Plugin));
        }
    }

    // ---- 6.3 broadcast integration ----

    [Fact]
    public async Task ToolRunnerBroadcastsToConnectionManager()
    {
        var published = new RecordingBroadcaster();
        using var h = RunnerHarness.Create(
            [TestPlugin.Echo("echo"), TestPlugin.Warning("warner", "low light")], frames: 3,
            configure: s => RunnerHarness.UseConnectionManager(s, published));
        var manager = h.Services.GetRequiredService<RealtimeSessions>();
        var everyJob = new RecordingTransport();
        var thisJob = new RecordingTransport();
        var otherJob = new RecordingTransport();
        var connections = new[]
        {
            manager.TryAdd(everyJob, null, null).Connection!, manager.TryAdd(thisJob, h.Job.Id, null).Connection!,
            manager.TryAdd(otherJob, Guid.NewGuid(), null).Connection!,
        };

        try
        {
            await h.RunAsync();

            var messages = published.Messages;
            Assert.NotEmpty(messages);
            await everyJob.WhenSentAsync(messages.Count).WaitAsync(Bounded);
            await thisJob.WhenSentAsync(messages.Count).WaitAsync(Bounded);

            // Every message reached both subscribers, in publication order, as the serializer writes it.
            var serializer = new MessageSerializer();
            var expected = messages.Select(m => Encoding.UTF8.GetString(serializer.Serialize(m))).ToList();
            Assert.Equal(expected, everyJob.Sent.Select(b => Encoding.UTF8.GetString(b)));
            Assert.Equal(expected, thisJob.Sent.Select(b => Encoding.UTF8.GetString(b)));
            Assert.Empty(otherJob.Sent);

            var types = everyJob.Sent.Select(b => JsonDocument.Parse(b).RootElement.GetProperty("type").GetString()).Distinct().ToList();
            Assert.Equal(["progress", "plugin_status", "frame", "warning"], types);
            Assert.All(connections, c => Assert.Equal(0, c.Dropped));
        }
        finally
        {
            await CloseAsync(connections);
        }
    }

    [Fact]
    public async Task ToolRunnerBroadcastsAllMessageTypes()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), TestPlugin.Warning("warner", "low light")], frames: 4);

        await h.RunAsync();

        var payloads = h.Published.Payloads;
        var types = payloads.Select(p => p.Type).ToHashSet();
        Assert.Superset(new HashSet<MessageType> { MessageType.Frame, MessageType.Progress, MessageType.PluginStatus, MessageType.Warning }, types);
        Assert.All(payloads, p => Assert.Equal(h.Job.Id, p.RoutingJobId));
        AssertDocumentedOrder(payloads, ["echo", "warner"], frames: 4, finalStage: "completed");

        // Every message handed to the broadcaster passes its schema.
        var validator = new RealtimeMessageValidator();
        Assert.All(h.Published.Messages, m => Assert.True(validator.Validate(m).IsValid));
    }

    [Fact]
    public async Task ToolRunnerDoesNotBlockOnBroadcast()
    {
        var published = new RecordingBroadcaster();
        using var h = RunnerHarness.Create(
            [TestPlugin.Echo("echo"), TestPlugin.Warning("warner", "low light")], frames: 5,
            configure: s => RunnerHarness.UseConnectionManager(s, published));
        var manager = h.Services.GetRequiredService<RealtimeSessions>();
        var stuck = new RecordingTransport(block: true);
        var connection = manager.TryAdd(stuck, null, null).Connection!;

        try
        {
            // The client never reads, yet the job runs to its end.
            await h.RunAsync().WaitAsync(Bounded);

            Assert.Equal(JobStatus.Completed, h.Job.Status);
            Assert.Equal(5, h.Job.Frames.Count);
            Assert.All(h.Job.Frames, f => Assert.Equal(2, f.Results.Count));

            // The writer really is stuck in its first send, and everything else waits in the connection's queue.
            await stuck.FirstSendStarted.WaitAsync(Bounded);
            Assert.Equal(1, stuck.SendCalls);
            Assert.Empty(stuck.Sent);
            Assert.Equal(published.Messages.Count - 1, connection.QueueDepth);
        }
        finally
        {
            await CloseAsync([connection]);
        }
    }

    // ---- 6.4 error handling ----

    [Fact]
    public async Task Analyze_WhenPluginWarnsThenThrows_PublishesTheWarningBeforeTheCrash()
    {
        var plugin = new TestPlugin("fragile", (frame, context) =>
        {
            context.Warn("lens cracked", Sdk.WarningSeverity.High);
            throw new InvalidOperationException("gave up");
        });
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), plugin], frames: 2);

        await h.RunAsync();

        var warning = Assert.Single(h.Published.Of<WarningPayload>());
        Assert.Equal(("fragile", "lens cracked", "frame-000001"), (warning.Plugin, warning.Message, warning.FrameId));
        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.True(IndexOf(h.Published.Payloads, warning) < IndexOf(h.Published.Payloads, error));
        Assert.Equal(["fragile: lens cracked (frame-000001)", "fragile: PLUGIN_CRASH: gave up"], h.Job.Warnings);
        Assert.Equal(JobStatus.Completed, h.Job.Status);
    }

    [Fact]
    public async Task Analyze_WhenResultCannotBeSerialized_FailsOnlyThatPluginAndKeepsItsTiming()
    {
        var plugin = new TestPlugin("bad_result", (_, _) => new ThrowingResult());
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), plugin], frames: 2);

        await h.RunAsync();

        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal(("bad_result", ErrorCodes.PluginCrash), (error.Plugin, error.Details!.ErrorCode));
        Assert.Equal(2, h.Published.Of<FramePayload>().Count(f => f.Plugin == "echo"));
        Assert.Equal(JobStatus.Completed, h.Job.Status);
    }

    private sealed class ThrowingResult
    {
        public int Value => throw new NotSupportedException("this result has no JSON form");
    }

    [Fact]
    public async Task ToolRunnerHandlesPluginError()
    {
        var crash = TestPlugin.Crashing("crash", fromIndex: 2);
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), crash], frames: 4);

        await h.RunAsync();

        // An error message with the plugin, frame and PLUGIN_CRASH, then plugin_status failed.
        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal("crash", error.Plugin);
        Assert.Equal(h.Job.Id, error.JobId);
        Assert.Equal("frame-000002", error.FrameId);
        Assert.NotNull(error.Details);
        Assert.Equal(ErrorCodes.PluginCrash, error.Details.ErrorCode);
        Assert.Contains("boom on frame-000002", error.Details.Message, StringComparison.Ordinal);
        var failed = Assert.Single(h.Published.Of<PluginStatusPayload>(), s => s.Status == PluginRunStatus.Failed);
        Assert.Equal("crash", failed.Plugin);
        Assert.Equal(1, failed.FramesProcessed);
        Assert.Equal(IndexOf(h.Published.Payloads, error) + 1, IndexOf(h.Published.Payloads, failed));
        Assert.DoesNotContain(h.Published.Of<PluginStatusPayload>(), s => s.Plugin == "crash" && s.Status == PluginRunStatus.Completed);

        // The other plugin goes on to the end and the job completes.
        Assert.Equal(4, h.Published.Of<FramePayload>().Count(f => f.Plugin == "echo"));
        Assert.Equal(["frame-000001"], h.Published.Of<FramePayload>().Where(f => f.Plugin == "crash").Select(f => f.FrameId));
        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.Equal(4, h.Job.Frames.Count);
        Assert.Equal(2, h.Job.Frames[0].Results.Count);
        Assert.All(h.Job.Frames.Skip(1), f => Assert.Equal("echo", Assert.Single(f.Results).Key));
        Assert.Contains(h.Job.Warnings, w => w.StartsWith("crash: PLUGIN_CRASH:", StringComparison.Ordinal));
        Assert.Equal(1, crash.SessionsDisposed);
        Assert.Equal("completed", h.Published.Of<ProgressPayload>()[^1].Stage);
    }

    [Fact]
    public async Task Relay_WithNoSubscriber_StillSequencesAndLogsEveryMessageBeforeTheFinalSave()
    {
        var broadcaster = Substitute.For<IRealtimeBroadcaster>();
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 3, broadcaster: broadcaster);
        var savedWhenLogged = new List<long>();
        h.Repository.When(r => r.SaveAsync(Arg.Is<JobMemento>(j => j.Status == JobStatus.Completed), Arg.Any<CancellationToken>()))
            .Do(_ => savedWhenLogged.Add(Logged(h).Count));

        await h.RunAsync();

        var logged = Logged(h);
        Assert.Equal(Enumerable.Range(1, logged.Count).Select(i => (long)i), logged.Select(e => e.Seq));
        Assert.True(logged[^1].EndsJob);
        Assert.All(logged[..^1], e => Assert.False(e.EndsJob));
        Assert.Equal([logged.Count], savedWhenLogged);
        broadcaster.Received(logged.Count).Publish(Arg.Any<PublishedMessage>());
        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.Equal(3, h.Job.Frames.Count);
    }

    private static List<JobEvent> Logged(RunnerHarness h) =>
        [.. h.EventLog.ReceivedCalls()
            .Where(c => c.GetMethodInfo().Name == nameof(IJobEventLog.AppendAsync))
            .SelectMany(c => (IReadOnlyList<JobEvent>)c.GetArguments()[0]!)];

    [Fact]
    public async Task ToolRunnerHandlesBroadcastError()
    {
        var broadcaster = Substitute.For<IRealtimeBroadcaster>();
        broadcaster.When(b => b.Publish(Arg.Any<PublishedMessage>())).Do(_ => throw new InvalidOperationException("socket layer down"));
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), TestPlugin.Warning("warner", "low light")], frames: 3, broadcaster: broadcaster);

        await h.RunAsync();

        // Every publication failed ...
        var attempts = broadcaster.ReceivedCalls()
            .Where(c => c.GetMethodInfo().Name == nameof(IRealtimeBroadcaster.Publish))
            .Select(c => ((PublishedMessage)c.GetArguments()[0]!).Message).ToList();
        Assert.Contains(attempts, m => m.Type == MessageType.Frame);
        Assert.Contains(attempts, m => m.Payload is ProgressPayload { Progress: 100 });

        // ... was logged as an error of the relay ...
        var relayErrors = h.Logs.Entries.Where(e => e.Category == typeof(RealtimeRelay).FullName && e.Level == LogLevel.Error).ToList();
        Assert.Equal(attempts.Count, relayErrors.Count);
        Assert.All(relayErrors, e => Assert.IsType<InvalidOperationException>(e.Exception));

        // ... and the job went on: complete, with every frame and warning recorded.
        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.Equal(100, h.Job.Progress);
        Assert.Equal(3, h.Job.Frames.Count);
        Assert.All(h.Job.Frames, f => Assert.Equal(2, f.Results.Count));
        Assert.Equal(3, h.Job.Warnings.Count);
    }

    [Fact]
    public async Task ToolRunnerHandlesTimingError()
    {
        var clock = new BrokenTimestampClock();
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), TestPlugin.Warning("warner", "low light")], frames: 3, time: clock);

        await h.RunAsync();

        Assert.True(clock.TimestampReads > 0, "the runner never read the clock, so the error path was not exercised");
        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.Equal(3, h.Job.Frames.Count);
        Assert.All(h.Job.Frames, f => Assert.Equal(2, f.Results.Count));
        Assert.All(h.Published.Of<FramePayload>(), f => Assert.Equal(0, f.TimingMs));
        Assert.Equal(6, h.Published.Of<FramePayload>().Count);
        Assert.All(h.Job.PluginTimings.Values, ms => Assert.Equal(0, ms));
        Assert.Empty(h.Published.Of<ErrorPayload>());
        Assert.Contains(h.Logs.Entries, e => e.Level == LogLevel.Warning && e.Exception is InvalidOperationException);
    }

    // ---- beyond the matrix: failure paths of a job ----

    [Fact]
    public async Task RunAsync_PluginTakesLongerThanTheTimeout_IsStoppedWithPluginTimeout()
    {
        var clock = new FakeTimeProvider();
        using var h = RunnerHarness.Create(
            [TestPlugin.Echo("echo"), TestPlugin.Slow("slow", clock, TimeSpan.FromSeconds(2))], frames: 3, time: clock,
            jobs: new JobsOptions { PluginTimeout = TimeSpan.FromSeconds(1), PipelineParallelism = 1 });

        await h.RunAsync();

        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal(ErrorCodes.PluginTimeout, error.Details?.ErrorCode);
        Assert.Equal(("slow", "frame-000001"), (error.Plugin, error.FrameId));
        Assert.Equal(["frame-000001"], h.Published.Of<FramePayload>().Where(f => f.Plugin == "slow").Select(f => f.FrameId));
        Assert.Equal(3, h.Published.Of<FramePayload>().Count(f => f.Plugin == "echo"));
        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.Equal(2000, h.Job.PluginTimings["slow"], 6);
    }

    [Fact]
    public async Task RunAsync_PluginThrowsOperationCanceledException_FailsOnlyThatPlugin()
    {
        // Analyze takes no token, so a cancellation exception out of a plugin is the plugin's own failure
        // (e.g. a timeout inside a model client), not a request to stop the job or the server.
        using var h = RunnerHarness.Create(
            [TestPlugin.Echo("echo"), TestPlugin.Crashing("remote", 2, _ => new TaskCanceledException("model server timed out"))], frames: 3);

        await h.RunAsync();

        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal(("remote", ErrorCodes.PluginCrash), (error.Plugin, error.Details?.ErrorCode));
        Assert.Equal(3, h.Published.Of<FramePayload>().Count(f => f.Plugin == "echo"));
        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.False(h.LiveJobs.TryGet(h.Job.Id, out _));
    }

    [Fact]
    public async Task RunAsync_PluginReportsAPartialResultThatIsNotAnObject_FailsOnlyThatPlugin()
    {
        var partialList = new TestPlugin("partial", (frame, context) =>
        {
            context.ReportPartial(new[] { 1, 2, 3 });
            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), partialList], frames: 3);

        await h.RunAsync();

        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal(("partial", ErrorCodes.PluginCrash), (error.Plugin, error.Details?.ErrorCode));
        Assert.Equal(3, h.Published.Of<FramePayload>().Count(f => f.Plugin == "echo"));
        Assert.Equal(JobStatus.Completed, h.Job.Status);
    }

    [Fact]
    public async Task RunAsync_PluginReportsAPartialResult_PublishesItAfterTheFrame()
    {
        var partial = new TestPlugin("partial", (frame, context) =>
        {
            context.ReportPartial(new { frames_seen = frame.Index });
            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = RunnerHarness.Create([partial], frames: 2);

        await h.RunAsync();

        var partials = h.Published.Of<PartialResultPayload>();
        Assert.Equal([1, 2], partials.Select(p => p.Result.GetProperty("frames_seen").GetInt32()));
        Assert.All(partials, p => Assert.True(p.Partial));
        Assert.All(partials, p => Assert.IsType<FramePayload>(h.Published.Payloads[IndexOf(h.Published.Payloads, p) - 1]));
    }

    [Fact]
    public async Task RunAsync_SourceFailsWithOperationCanceledWithoutAnyCancellation_FailsTheJob()
    {
        using var h = RunnerHarness.Create(
            [TestPlugin.Echo("echo")], frames: 3,
            source: () => new FakeFrameSource(3, failAt: 2, failure: () => new OperationCanceledException("decoder timed out")));

        await h.RunAsync();

        Assert.Equal(JobStatus.Failed, h.Job.Status);
        Assert.NotNull(h.Job.Error);
        Assert.Equal("failed", h.Published.Of<ProgressPayload>()[^1].Stage);
        Assert.False(h.LiveJobs.TryGet(h.Job.Id, out _));
    }

    [Fact]
    public async Task RunAsync_SourceUnreadable_FailsTheJobWithSourceUnreadable()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 3);
        h.Sources.Open(Arg.Any<string>()).Throws(new SourceUnreadableException("no such file: clip.mp4"));

        await h.RunAsync();

        Assert.Equal(JobStatus.Failed, h.Job.Status);
        Assert.StartsWith(ErrorCodes.SourceUnreadable, h.Job.Error, StringComparison.Ordinal);
        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal(ErrorCodes.SourceUnreadable, error.Details?.ErrorCode);
        var last = h.Published.Of<ProgressPayload>()[^1];
        Assert.Equal((100, "failed"), (last.Progress, last.Stage));
        Assert.Empty(h.Published.Of<FramePayload>());
    }

    [Fact]
    public async Task RunAsync_SourceYieldsNoFrames_FailsTheJob()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 0);

        await h.RunAsync();

        Assert.Equal(JobStatus.Failed, h.Job.Status);
        Assert.Contains("no frames", h.Job.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_GpuRequestedButRunningOnCpu_ReportsTheFallbackAndCompletes()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 2, requested: Device.Gpu, used: Device.Cpu);

        await h.RunAsync();

        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal(ErrorCodes.DeviceUnavailable, error.Details?.ErrorCode);
        Assert.True(error.Details?.Fallback);
        Assert.Contains(h.Job.Warnings, w => w.StartsWith(ErrorCodes.DeviceUnavailable, StringComparison.Ordinal));
        Assert.All(h.Published.Of<FramePayload>(), f => Assert.Equal("cpu", f.DeviceUsed));
        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.True(h.Job.Fallback);
    }

    [Fact]
    public async Task RunAsync_EveryPluginCrashes_FailsTheJob()
    {
        using var h = RunnerHarness.Create([TestPlugin.Crashing("a", 1), TestPlugin.Crashing("b", 2)], frames: 4);

        await h.RunAsync();

        Assert.Equal(JobStatus.Failed, h.Job.Status);
        Assert.Contains("no plugin could run", h.Job.Error, StringComparison.Ordinal);
        Assert.Equal(2, h.Published.Of<PluginStatusPayload>().Count(s => s.Status == PluginRunStatus.Failed));
        Assert.Equal("failed", h.Published.Of<ProgressPayload>()[^1].Stage);
    }

    [Fact]
    public async Task RunAsync_PluginThatCannotOpenASession_FailsAndTheOthersRun()
    {
        var broken = new BrokenSessionPlugin();
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), broken], frames: 2);

        await h.RunAsync();

        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal("broken", error.Plugin);
        Assert.Equal(ErrorCodes.PluginCrash, error.Details?.ErrorCode);
        Assert.Null(error.FrameId);
        Assert.Equal(2, h.Published.Of<FramePayload>().Count(f => f.Plugin == "echo"));
        Assert.Equal(JobStatus.Completed, h.Job.Status);
    }

    [Fact]
    public async Task RunAsync_CancelRequestedWhileRunning_StopsBeforeTheNextFrame()
    {
        RunnerHarness? harness = null;
        var canceller = new TestPlugin("canceller", (frame, _) =>
        {
            if (frame.Index == 2)
            {
                harness!.LiveJobs.RequestCancel(harness.Job.Id);
            }

            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = harness = RunnerHarness.Create([canceller], frames: 5);

        await h.RunAsync();

        Assert.Equal(JobStatus.Cancelled, h.Job.Status);
        Assert.Equal(["frame-000001", "frame-000002"], h.Job.Frames.Select(f => f.FrameId));
        var last = h.Published.Of<ProgressPayload>()[^1];
        Assert.Equal((100, "cancelled"), (last.Progress, last.Stage));
        Assert.Equal(1, canceller.SessionsDisposed);
    }

    [Fact]
    public async Task RunAsync_CancelRequestedBeforeStart_CancelsWithoutOpeningTheSource()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 3);
        h.LiveJobs.RequestCancel(h.Job.Id);

        await h.RunAsync();

        Assert.Equal(JobStatus.Cancelled, h.Job.Status);
        h.Sources.DidNotReceive().Open(Arg.Any<string>());
        Assert.Empty(h.Job.Frames);
    }

    [Fact]
    public async Task RunAsync_JobNotQueued_IsLeftAlone()
    {
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo")], frames: 3);
        h.Job.Start(DateTimeOffset.UtcNow);

        await h.RunAsync();

        Assert.Equal(JobStatus.Running, h.Job.Status);
        Assert.Empty(h.Published.Messages);
        h.Sources.DidNotReceive().Open(Arg.Any<string>());
    }

    [Fact]
    public async Task RunAsync_ServerStopping_FailsTheJobAsInterrupted()
    {
        using var stopping = new CancellationTokenSource();
        var stopper = new TestPlugin("stopper", (frame, _) =>
        {
            if (frame.Index == 1)
            {
                stopping.Cancel();
            }

            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = RunnerHarness.Create([stopper], frames: 3);

        await h.RunAsync(stopping.Token);

        Assert.Equal(JobStatus.Failed, h.Job.Status);
        Assert.Contains("shut down", h.Job.Error, StringComparison.Ordinal);
    }

    // ---- issue 11: the frame pipeline in a job (messages leave in order; the pipeline alone: FramePipelineTests) ----

    [Fact]
    public async Task Pipeline_WithPluginsFinishingOutOfOrder_PublishesFrameMajorInTheJobsPluginOrder_WithConsecutiveSeq()
    {
        var jitter = new TestPlugin("jitter", (frame, _) =>
        {
            // Early frames are the slowest, so later ones are done first.
            Thread.Sleep(Math.Max(0, 12 - frame.Index));
            return new EchoResult(frame.Index, frame.Image.Width);
        }) { Concurrency = PluginConcurrency.Parallel };
        var warner = new TestPlugin("warner", (frame, context) =>
        {
            context.Warn($"look at {frame.Index}", Sdk.WarningSeverity.Low);
            return new EchoResult(frame.Index, frame.Image.Width);
        }) { Concurrency = PluginConcurrency.Parallel };
        var broadcaster = Substitute.For<IRealtimeBroadcaster>();
        var published = new RecordingBroadcaster();
        broadcaster.When(b => b.Publish(Arg.Any<PublishedMessage>())).Do(c => published.Publish(c.Arg<PublishedMessage>()));
        using var h = RunnerHarness.Create(
            [jitter, TestPlugin.Echo("echo"), warner], frames: 12, broadcaster: broadcaster, jobs: new JobsOptions { PipelineParallelism = 4, PipelineThreadingThreshold = TimeSpan.Zero });

        await h.RunAsync();

        Assert.Equal(JobStatus.Completed, h.Job.Status);
        AssertDocumentedOrder(published.Payloads, ["jitter", "echo", "warner"], 12, "completed");
        var warnings = published.Of<WarningPayload>();
        Assert.Equal(Enumerable.Range(1, 12).Select(i => $"look at {i}"), warnings.Select(w => w.Message));
        var logged = Logged(h);
        Assert.Equal(Enumerable.Range(1, logged.Count).Select(i => (long)i), logged.Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(1, 12).Select(FrameResult.IdFor), h.Job.Frames.Select(f => f.FrameId));
    }

    [Fact]
    public async Task Pipeline_ParallelPluginCrashesMidRun_ItsResultsOfLaterFramesAnalysedAhead_AreDiscarded()
    {
        var analysed = new ConcurrentQueue<int>();
        var crasher = new TestPlugin("crasher", (frame, context) =>
        {
            analysed.Enqueue(frame.Index);
            context.Warn($"seen {frame.Index}", Sdk.WarningSeverity.Low);
            if (frame.Index == 3)
            {
                // Slow to fail, so that the other lanes analyse later frames meanwhile.
                Thread.Sleep(300);
                throw new InvalidOperationException("boom on 3");
            }

            return new EchoResult(frame.Index, frame.Image.Width);
        }) { Concurrency = PluginConcurrency.Parallel };
        using var h = RunnerHarness.Create([TestPlugin.Echo("echo"), crasher], frames: 12, jobs: new JobsOptions { PipelineParallelism = 4, PipelineThreadingThreshold = TimeSpan.Zero });

        await h.RunAsync();

        Assert.Contains(analysed, i => i > 3);
        Assert.Equal(JobStatus.Completed, h.Job.Status);
        var payloads = h.Published.Payloads;
        var error = Assert.Single(h.Published.Of<ErrorPayload>());
        Assert.Equal(("crasher", "frame-000003", ErrorCodes.PluginCrash), (error.Plugin, error.FrameId, error.Details?.ErrorCode));
        var failed = Assert.Single(h.Published.Of<PluginStatusPayload>(), s => s.Plugin == "crasher" && s.Status == PluginRunStatus.Failed);
        Assert.Equal(IndexOf(payloads, error) + 1, IndexOf(payloads, failed));
        Assert.Equal(2, failed.FramesProcessed);
        Assert.DoesNotContain(h.Published.Of<PluginStatusPayload>(), s => s.Plugin == "crasher" && s.Status == PluginRunStatus.Completed);

        // Nothing of it after its failure; its frames before the failure, and the warning it raised on the failing frame.
        Assert.Equal(["frame-000001", "frame-000002"], h.Published.Of<FramePayload>().Where(f => f.Plugin == "crasher").Select(f => f.FrameId));
        Assert.Equal(["seen 1", "seen 2", "seen 3"], h.Published.Of<WarningPayload>().Select(w => w.Message));
        Assert.DoesNotContain(payloads.Skip(IndexOf(payloads, failed) + 1), p => p is FramePayload { Plugin: "crasher" } or WarningPayload);
        Assert.Equal(12, h.Published.Of<FramePayload>().Count(f => f.Plugin == "echo"));
        Assert.Equal(crasher.SessionsOpened, crasher.SessionsDisposed);
        Assert.All(h.Job.Frames.Skip(2), f => Assert.Equal("echo", Assert.Single(f.Results).Key));
    }

    [Theory]
    [InlineData("complete")]
    [InlineData("crash")]
    [InlineData("cancel")]
    [InlineData("budget")]
    public async Task Pipeline_EveryFrameIsDisposed_OnlyAfterEveryPluginIsDoneWithIt(string ending)
    {
        RunnerHarness? harness = null;
        // Unknown length, so that the frame budget is hit while reading, not before.
        var source = new TrackingFrameSource(20, countKnown: ending != "budget");
        var sawDisposed = 0;
        object Check(VideoFrame frame)
        {
            if (frame.Image.IsDisposed)
            {
                Interlocked.Increment(ref sawDisposed);
            }

            Thread.Sleep(1);
            if (frame.Image.IsDisposed)
            {
                Interlocked.Increment(ref sawDisposed);
            }

            return new EchoResult(frame.Index, frame.Image.Width);
        }

        var stateless = new TestPlugin("stateless", (frame, _) => Check(frame)) { Concurrency = PluginConcurrency.Parallel };
        var stateful = new TestPlugin("stateful", (frame, _) =>
        {
            if (ending == "cancel" && frame.Index == 5)
            {
                harness!.LiveJobs.RequestCancel(harness.Job.Id);
            }

            return ending == "crash" && frame.Index == 6 ? throw new InvalidOperationException("boom") : Check(frame);
        });
        var jobs = new JobsOptions { PipelineParallelism = 3, PipelineThreadingThreshold = TimeSpan.Zero, MaxFrames = ending == "budget" ? 10 : 100_000 };
        using var h = harness = RunnerHarness.Create([stateless, stateful], frames: 20, source: () => source, jobs: jobs);

        await h.RunAsync();

        Assert.Equal(
            ending switch { "cancel" => JobStatus.Cancelled, "budget" => JobStatus.Failed, _ => JobStatus.Completed },
            h.Job.Status);
        Assert.Equal(0, Volatile.Read(ref sawDisposed));
        Assert.NotEmpty(source.Yielded);
        Assert.All(source.Yielded, f => Assert.True(f.Image.IsDisposed, $"{f.FrameId} was never disposed"));
        Assert.Equal(stateless.SessionsOpened, stateless.SessionsDisposed);
        Assert.Equal(1, stateful.SessionsDisposed);
    }

    [Fact]
    public async Task Pipeline_CancelWhileFramesAreAnalysedAhead_PublishesNothingPastTheCancel()
    {
        RunnerHarness? harness = null;
        var stateless = new TestPlugin("stateless", (frame, _) => new EchoResult(frame.Index, frame.Image.Width)) { Concurrency = PluginConcurrency.Parallel };
        var canceller = new TestPlugin("canceller", (frame, _) =>
        {
            if (frame.Index == 3)
            {
                harness!.LiveJobs.RequestCancel(harness.Job.Id);
            }

            return new EchoResult(frame.Index, frame.Image.Width);
        });
        using var h = harness = RunnerHarness.Create([stateless, canceller], frames: 40, jobs: new JobsOptions { PipelineParallelism = 4, PipelineThreadingThreshold = TimeSpan.Zero });

        await h.RunAsync();

        Assert.Equal(JobStatus.Cancelled, h.Job.Status);

        // What was published: frames up to the cancel at frame 3 (frames 4+ were being analysed ahead on the other lanes)
        // and nothing of any later frame; exactly the recorded frames, each with both plugins' results; the job's end last.
        var published = h.Published.Payloads;
        var frames = published.OfType<FramePayload>().ToList();
        Assert.All(frames, f => Assert.True(string.CompareOrdinal(f.FrameId, FrameResult.IdFor(3)) <= 0, $"{f.FrameId} ({f.Plugin}) was published after the cancel at frame 3"));
        Assert.Equal(
            h.Job.Frames.SelectMany(f => new[] { (f.FrameId, "stateless"), (f.FrameId, "canceller") }).Order(),
            frames.Select(f => (f.FrameId, f.Plugin)).Order());
        var end = Assert.IsType<ProgressPayload>(published[^1]);
        Assert.Equal((100, "cancelled"), (end.Progress, end.Stage));

        // And the job records the same frames, each with both results.
        Assert.True(h.Job.Frames.Count <= 3, $"{h.Job.Frames.Count} frames recorded after a cancel at frame 3");
        Assert.All(h.Job.Frames, f => Assert.Equal(2, f.Results.Count));
    }

    // ---- helpers ----

    /// <summary>
    /// Plugins that advance one shared fake clock can only be timed apart when they run one at a time: run concurrently,
    /// each would also count the time the other one advanced.
    /// </summary>
    private static JobsOptions OneAtATime() => new() { PipelineParallelism = 1 };

    private static int IndexOf(IReadOnlyList<RealtimePayload> payloads, RealtimePayload payload)
    {
        for (var i = 0; i < payloads.Count; i++)
        {
            if (ReferenceEquals(payloads[i], payload))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>API.md §3.3: progress 0 → started (each plugin) → per frame: frame (each plugin), warnings, progress → completed (each) → progress 100.</summary>
    private static void AssertDocumentedOrder(IReadOnlyList<RealtimePayload> payloads, string[] plugins, int frames, string finalStage)
    {
        var first = Assert.IsType<ProgressPayload>(payloads[0]);
        Assert.Equal((0, "started"), (first.Progress, first.Stage));

        var started = payloads.Skip(1).Take(plugins.Length).Select(p => Assert.IsType<PluginStatusPayload>(p)).ToList();
        Assert.Equal(plugins.Select(p => (p, PluginRunStatus.Started)), started.Select(s => (s.Plugin, s.Status)));

        var last = Assert.IsType<ProgressPayload>(payloads[^1]);
        Assert.Equal((100, finalStage), (last.Progress, last.Stage));

        var completed = payloads.Skip(payloads.Count - 1 - plugins.Length).Take(plugins.Length).Select(p => Assert.IsType<PluginStatusPayload>(p)).ToList();
        Assert.Equal(plugins.Select(p => (p, PluginRunStatus.Completed)), completed.Select(s => (s.Plugin, s.Status)));

        var middle = payloads.Skip(1 + plugins.Length).Take(payloads.Count - 2 - (2 * plugins.Length)).ToList();
        var expectedFrames = Enumerable.Range(1, frames).SelectMany(i => plugins.Select(p => (FrameResult.IdFor(i), p)));
        Assert.Equal(expectedFrames, middle.OfType<FramePayload>().Select(f => (f.FrameId, f.Plugin)));
        var lastProgress = 0;
        var currentFrame = 0;
        foreach (var payload in middle)
        {
            switch (payload)
            {
                case FramePayload frame:
                    currentFrame = int.Parse(frame.FrameId[^6..], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case WarningPayload warning:
                    Assert.Equal(FrameResult.IdFor(currentFrame), warning.FrameId);
                    break;
                case ProgressPayload progress:
                    Assert.True(progress.Progress > lastProgress, "progress only goes up, and only when it changes");
                    lastProgress = progress.Progress;
                    break;
                default:
                    Assert.Fail($"unexpected {payload.Type.ToWire()} message while analysing frames");
                    break;
            }
        }
    }

    private static async Task CloseAsync(IEnumerable<Connection> connections)
    {
        foreach (var connection in connections)
        {
            connection.Abort("test over");
            await connection.Completion.WaitAsync(Bounded);
        }
    }

    private sealed class BrokenSessionPlugin : IFramePlugin
    {
        public string Name => "broken";

        public PluginMetadata Metadata { get; } = new("1.0.0", "broken", [null, null, 3], "{}", 0.5, []);

        public IPluginSession OpenSession(PluginSessionOptions options) =>
            throw new InvalidOperationException("model file missing");
    }
}
