using System.Text.Json;
using CleanRealtime.Domain.Common;
using CleanRealtime.Domain.Jobs;

namespace CleanRealtime.UnitTests.Domain.Jobs;

public sealed class JobTests
{
    private static readonly DateTimeOffset Created = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Later = Created.AddSeconds(5);
    private static readonly string[] TwoPlugins = ["motion_detection", "ball_detection"];

    private static Job Queued(Device requested = Device.Cpu, Device used = Device.Cpu) =>
        Job.Queue(Guid.NewGuid(), "synthetic:pitch?frames=3", requested, used, TwoPlugins, Created);

    private static Job Running()
    {
        var job = Queued();
        job.Start(Later);
        return job;
    }

    private static Job InState(JobStatus status)
    {
        var job = Queued();
        switch (status)
        {
            case JobStatus.Queued:
                break;
            case JobStatus.Running:
                job.Start(Later);
                break;
            case JobStatus.Completed:
                job.Start(Later);
                job.Complete(Later);
                break;
            case JobStatus.Failed:
                job.Start(Later);
                job.Fail("boom", Later);
                break;
            case JobStatus.Cancelled:
                job.Cancel(Later);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(status));
        }

        Assert.Equal(status, job.Status);
        return job;
    }

    private static JsonElement Data(int value) => JsonSerializer.SerializeToElement(new { value });

    // ---- Queue ----

    [Fact]
    public void Queue_ValidArguments_IsQueuedWithNothingRecordedYet()
    {
        var id = Guid.NewGuid();

        var job = Job.Queue(id, "clip.mp4", Device.Gpu, Device.Cpu, TwoPlugins, Created);

        Assert.Equal(id, job.Id);
        Assert.Equal("clip.mp4", job.Source);
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(Device.Gpu, job.DeviceRequested);
        Assert.Equal(Device.Cpu, job.DeviceUsed);
        Assert.Equal(TwoPlugins, job.Plugins);
        Assert.Equal(Created, job.CreatedAt);
        Assert.Null(job.Progress);
        Assert.Null(job.StartedAt);
        Assert.Null(job.CompletedAt);
        Assert.Null(job.Error);
        Assert.Empty(job.Frames);
        Assert.Empty(job.PluginTimings);
        Assert.Empty(job.Warnings);
    }

    [Fact]
    public void Queue_EmptyId_IsRefused() =>
        Assert.Throws<DomainRuleException>(() => Job.Queue(Guid.Empty, "clip.mp4", Device.Cpu, Device.Cpu, TwoPlugins, Created));

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Queue_BlankSource_IsRefused(string source) =>
        Assert.Throws<DomainRuleException>(() => Job.Queue(Guid.NewGuid(), source, Device.Cpu, Device.Cpu, TwoPlugins, Created));

    [Fact]
    public void Queue_UsedDeviceAuto_IsRefused() =>
        Assert.Throws<DomainRuleException>(() => Job.Queue(Guid.NewGuid(), "clip.mp4", Device.Auto, Device.Auto, TwoPlugins, Created));

    [Fact]
    public void Queue_NoPlugins_IsRefused() =>
        Assert.Throws<DomainRuleException>(() => Job.Queue(Guid.NewGuid(), "clip.mp4", Device.Cpu, Device.Cpu, [], Created));

    [Fact]
    public void Queue_DuplicatePlugins_IsRefused() =>
        Assert.Throws<DomainRuleException>(() =>
            Job.Queue(Guid.NewGuid(), "clip.mp4", Device.Cpu, Device.Cpu, ["motion_detection", "motion_detection"], Created));

    [Fact]
    public void Queue_KeepsItsOwnCopyOfThePluginList()
    {
        var plugins = new List<string>(TwoPlugins);
        var job = Job.Queue(Guid.NewGuid(), "clip.mp4", Device.Cpu, Device.Cpu, plugins, Created);

        plugins.Add("player_detection");

        Assert.Equal(TwoPlugins, job.Plugins);
    }

    // ---- Transitions: every one allowed or refused ----

    [Fact]
    public void Start_Queued_RunsFromZeroProgress()
    {
        var job = Queued();

        job.Start(Later);

        Assert.Equal(JobStatus.Running, job.Status);
        Assert.Equal(Later, job.StartedAt);
        Assert.Equal(0, job.Progress);
        Assert.Null(job.CompletedAt);
    }

    [Theory]
    [InlineData(JobStatus.Running)]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public void Start_NotQueued_IsRefusedAndChangesNothing(JobStatus status)
    {
        var job = InState(status);
        var before = job.StartedAt;

        Assert.Throws<DomainRuleException>(() => job.Start(Later.AddMinutes(1)));

        Assert.Equal(status, job.Status);
        Assert.Equal(before, job.StartedAt);
    }

    [Fact]
    public void Complete_Running_IsCompletedAtHundredPercent()
    {
        var job = Running();
        job.ReportProgress(40);

        job.Complete(Later.AddSeconds(1));

        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal(100, job.Progress);
        Assert.Equal(Later.AddSeconds(1), job.CompletedAt);
        Assert.Null(job.Error);
    }

    [Theory]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public void Complete_NotRunning_IsRefused(JobStatus status)
    {
        var job = InState(status);

        Assert.Throws<DomainRuleException>(() => job.Complete(Later.AddMinutes(1)));

        Assert.Equal(status, job.Status);
    }

    [Theory]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Running)]
    public void Fail_Unfinished_RecordsTheReason(JobStatus status)
    {
        var job = InState(status);

        job.Fail("SOURCE_UNREADABLE: no such file", Later.AddSeconds(2));

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal("SOURCE_UNREADABLE: no such file", job.Error);
        Assert.Equal(100, job.Progress);
        Assert.Equal(Later.AddSeconds(2), job.CompletedAt);
    }

    [Theory]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public void Fail_Finished_IsRefusedAndKeepsTheFirstOutcome(JobStatus status)
    {
        var job = InState(status);
        var error = job.Error;

        Assert.Throws<DomainRuleException>(() => job.Fail("late failure", Later.AddMinutes(1)));

        Assert.Equal(status, job.Status);
        Assert.Equal(error, job.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Fail_WithoutReason_IsRefused(string reason)
    {
        var job = Running();

        Assert.Throws<DomainRuleException>(() => job.Fail(reason, Later));

        Assert.Equal(JobStatus.Running, job.Status);
    }

    [Theory]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Running)]
    public void Cancel_Unfinished_IsCancelled(JobStatus status)
    {
        var job = InState(status);

        job.Cancel(Later.AddSeconds(3));

        Assert.Equal(JobStatus.Cancelled, job.Status);
        Assert.Equal(100, job.Progress);
        Assert.Equal(Later.AddSeconds(3), job.CompletedAt);
        Assert.Null(job.Error);
    }

    [Theory]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public void Cancel_Finished_IsRefused(JobStatus status)
    {
        var job = InState(status);
        var completedAt = job.CompletedAt;

        Assert.Throws<DomainRuleException>(() => job.Cancel(Later.AddMinutes(1)));

        Assert.Equal(status, job.Status);
        Assert.Equal(completedAt, job.CompletedAt);
    }

    // ---- Progress ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(57)]
    [InlineData(100)]
    public void ReportProgress_InRange_IsRecorded(int progress)
    {
        var job = Running();

        job.ReportProgress(progress);

        Assert.Equal(progress, job.Progress);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    [InlineData(150)]
    [InlineData(int.MinValue)]
    public void ReportProgress_OutOfRange_IsRefused(int progress)
    {
        var job = Running();
        job.ReportProgress(30);

        Assert.Throws<DomainRuleException>(() => job.ReportProgress(progress));

        Assert.Equal(30, job.Progress);
    }

    [Fact]
    public void ReportProgress_GoingBack_IsRefused()
    {
        var job = Running();
        job.ReportProgress(50);

        Assert.Throws<DomainRuleException>(() => job.ReportProgress(49));

        Assert.Equal(50, job.Progress);
    }

    [Fact]
    public void ReportProgress_SameValueAgain_IsAccepted()
    {
        var job = Running();
        job.ReportProgress(50);

        job.ReportProgress(50);
        job.ReportProgress(51);

        Assert.Equal(51, job.Progress);
    }

    [Theory]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public void ReportProgress_NotRunning_IsRefused(JobStatus status)
    {
        var job = InState(status);
        var progress = job.Progress;

        Assert.Throws<DomainRuleException>(() => job.ReportProgress(100));

        Assert.Equal(progress, job.Progress);
    }

    // ---- Frame results ----

    [Fact]
    public void RecordFrameResult_TwoPluginsOnOneFrame_GroupsThemInOneFrame()
    {
        var job = Running();

        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 2.5);
        job.RecordFrameResult("frame-000001", 1, 33.3, "ball_detection", Data(2), 4.0);

        var frame = Assert.Single(job.Frames);
        Assert.Equal("frame-000001", frame.FrameId);
        Assert.Equal(1, frame.Index);
        Assert.Equal(33.3, frame.TimestampMs);
        Assert.Equal(2, frame.Results.Count);
        Assert.Equal(1, frame.Results["motion_detection"].GetProperty("value").GetInt32());
        Assert.Equal(2, frame.Results["ball_detection"].GetProperty("value").GetInt32());
    }

    [Fact]
    public void RecordFrameResult_NextFrame_AppendsANewFrameInOrder()
    {
        var job = Running();

        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 1);
        job.RecordFrameResult("frame-000001", 1, 33.3, "ball_detection", Data(1), 1);
        job.RecordFrameResult("frame-000002", 2, 66.7, "motion_detection", Data(2), 1);
        job.RecordFrameResult("frame-000004", 4, 133.3, "ball_detection", Data(4), 1);

        Assert.Equal(["frame-000001", "frame-000002", "frame-000004"], job.Frames.Select(f => f.FrameId));
        Assert.Equal(2, job.Frames[0].Results.Count);
        Assert.Equal("motion_detection", Assert.Single(job.Frames[1].Results).Key);
        Assert.Equal("ball_detection", Assert.Single(job.Frames[2].Results).Key);
    }

    [Fact]
    public void RecordFrameResult_SamePluginTwiceOnOneFrame_IsRefused()
    {
        var job = Running();
        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 1);

        Assert.Throws<DomainRuleException>(() => job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(9), 1));

        Assert.Equal(1, job.Frames[0].Results["motion_detection"].GetProperty("value").GetInt32());
        Assert.Equal(1, job.PluginTimings["motion_detection"]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void RecordFrameResult_FrameNotAfterTheLastOne_IsRefused(int index)
    {
        var job = Running();
        job.RecordFrameResult("frame-000002", 2, 66.7, "motion_detection", Data(2), 1);

        Assert.Throws<DomainRuleException>(() => job.RecordFrameResult($"frame-other-{index}", index, 10, "ball_detection", Data(1), 1));

        Assert.Single(job.Frames);
    }

    [Fact]
    public void RecordFrameResult_PluginNotOfTheJob_IsRefused()
    {
        var job = Running();

        Assert.Throws<DomainRuleException>(() => job.RecordFrameResult("frame-000001", 1, 33.3, "player_detection", Data(1), 1));

        Assert.Empty(job.Frames);
        Assert.Empty(job.PluginTimings);
    }

    [Theory]
    [InlineData(-0.001)]
    [InlineData(double.NaN)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(double.PositiveInfinity)]
    public void RecordFrameResult_TimingNotAFiniteNonNegativeNumber_IsRefused(double timingMs)
    {
        var job = Running();

        Assert.Throws<DomainRuleException>(() => job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), timingMs));

        Assert.Empty(job.Frames);
        Assert.Empty(job.PluginTimings);
    }

    [Theory]
    [InlineData(JobStatus.Queued)]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public void RecordFrameResult_NotRunning_IsRefused(JobStatus status)
    {
        var job = InState(status);

        Assert.Throws<DomainRuleException>(() => job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 1));

        Assert.Empty(job.Frames);
    }

    [Fact]
    public void RecordFrameResult_AddsEachPluginsTimingUpOverFrames()
    {
        var job = Running();

        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 1.25);
        job.RecordFrameResult("frame-000001", 1, 33.3, "ball_detection", Data(1), 10);
        job.RecordFrameResult("frame-000002", 2, 66.7, "motion_detection", Data(2), 2.5);
        job.RecordFrameResult("frame-000002", 2, 66.7, "ball_detection", Data(2), 0);

        Assert.Equal(3.75, job.PluginTimings["motion_detection"], 9);
        Assert.Equal(10, job.PluginTimings["ball_detection"], 9);
    }

    // ---- SettlePluginTiming ----

    [Fact]
    public void SettlePluginTiming_AtOrAboveTheFramesTotal_SetsTheFinalTotal()
    {
        var job = Running();
        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 4);

        job.SettlePluginTiming("motion_detection", 4);
        Assert.Equal(4, job.PluginTimings["motion_detection"]);

        job.SettlePluginTiming("motion_detection", 9.5);
        Assert.Equal(9.5, job.PluginTimings["motion_detection"]);
    }

    [Fact]
    public void SettlePluginTiming_PluginThatRecordedNoFrame_StartsFromZero()
    {
        var job = Running();

        job.SettlePluginTiming("ball_detection", 12);

        Assert.Equal(12, job.PluginTimings["ball_detection"]);
    }

    [Fact]
    public void SettlePluginTiming_BelowWhatTheFramesAddedUpTo_IsRefused()
    {
        var job = Running();
        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 4);

        Assert.Throws<DomainRuleException>(() => job.SettlePluginTiming("motion_detection", 3.9));

        Assert.Equal(4, job.PluginTimings["motion_detection"]);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-1)]
    public void SettlePluginTiming_NotAFiniteNonNegativeNumber_IsRefused(double totalMs)
    {
        var job = Running();

        Assert.Throws<DomainRuleException>(() => job.SettlePluginTiming("motion_detection", totalMs));

        Assert.False(job.PluginTimings.ContainsKey("motion_detection"));
    }

    [Fact]
    public void SettlePluginTiming_PluginNotOfTheJob_IsRefused()
    {
        var job = Running();

        Assert.Throws<DomainRuleException>(() => job.SettlePluginTiming("player_detection", 1));

        Assert.Empty(job.PluginTimings);
    }

    // ---- Warnings ----

    [Fact]
    public void AddWarning_KeepsWarningsInTheOrderRaisedWithoutDeduplicating()
    {
        var job = Running();

        job.AddWarning("motion_detection: low light");
        job.AddWarning("ball_detection: no ball");
        job.AddWarning("motion_detection: low light");
        job.AddWarning("motion_detection: low light");

        Assert.Equal(
            ["motion_detection: low light", "ball_detection: no ball", "motion_detection: low light", "motion_detection: low light"],
            job.Warnings);
    }

    [Fact]
    public void AddWarning_QueuedJob_IsAccepted()
    {
        var job = Queued();

        job.AddWarning("DEVICE_UNAVAILABLE: gpu requested but not available");

        Assert.Single(job.Warnings);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \t")]
    public void AddWarning_Blank_IsRefused(string warning)
    {
        var job = Running();

        Assert.Throws<DomainRuleException>(() => job.AddWarning(warning));

        Assert.Empty(job.Warnings);
    }

    [Theory]
    [InlineData(JobStatus.Completed)]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.Cancelled)]
    public void AddWarning_Finished_IsRefused(JobStatus status)
    {
        var job = InState(status);

        Assert.Throws<DomainRuleException>(() => job.AddWarning("too late"));

        Assert.Empty(job.Warnings);
    }

    // ---- Fallback ----

    [Theory]
    [InlineData(Device.Cpu, Device.Cpu, false)]
    [InlineData(Device.Gpu, Device.Gpu, false)]
    [InlineData(Device.Gpu, Device.Cpu, true)]
    [InlineData(Device.Cpu, Device.Gpu, true)]
    [InlineData(Device.Auto, Device.Cpu, false)]
    [InlineData(Device.Auto, Device.Gpu, false)]
    public void Fallback_IsTrueOnlyWhenAConcreteRequestRunsElsewhere(Device requested, Device used, bool fallback)
    {
        var job = Queued(requested, used);

        Assert.Equal(fallback, job.Fallback);
        Assert.Equal(fallback, job.ToMemento().Fallback);
    }

    // ---- Memento ----

    [Fact]
    public void ToMementoThenRestore_GivesBackTheSameState()
    {
        var job = Running();
        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 2);
        job.RecordFrameResult("frame-000001", 1, 33.3, "ball_detection", Data(2), 3);
        job.ReportProgress(50);
        job.AddWarning("w1");
        job.AddWarning("w1");
        job.Fail("boom", Later.AddSeconds(9));
        var memento = job.ToMemento();

        var restored = Job.Restore(memento).ToMemento();

        Assert.Equal(memento.Id, restored.Id);
        Assert.Equal(memento.Status, restored.Status);
        Assert.Equal(memento.Progress, restored.Progress);
        Assert.Equal(memento.Error, restored.Error);
        Assert.Equal(memento.StartedAt, restored.StartedAt);
        Assert.Equal(memento.CompletedAt, restored.CompletedAt);
        Assert.Equal(memento.Warnings, restored.Warnings);
        Assert.Equal(memento.PluginTimings, restored.PluginTimings);
        Assert.Equal(memento.Frames.Select(f => (f.FrameId, f.Results.Count)), restored.Frames.Select(f => (f.FrameId, f.Results.Count)));
    }

    [Fact]
    public void ToMemento_IsASnapshotThatLaterChangesDoNotAlter()
    {
        var job = Running();
        job.AddWarning("first");
        var memento = job.ToMemento();

        job.AddWarning("second");
        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", Data(1), 2);

        Assert.Equal(["first"], memento.Warnings);
        Assert.Empty(memento.Frames);
        Assert.Empty(memento.PluginTimings);
    }
}
