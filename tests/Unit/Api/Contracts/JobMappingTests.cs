using System.Text.Json;
using CleanRealtime.Api.Contracts;
using CleanRealtime.Domain.Jobs;

namespace CleanRealtime.UnitTests.Api.Contracts;

public sealed class JobMappingTests
{
    private static readonly DateTimeOffset Created = new(2026, 11, 25, 14, 0, 0, TimeSpan.FromHours(2));

    private static Job RunningJobWithOneFrame()
    {
        var job = Job.Queue(Guid.NewGuid(), "clip.mp4", Device.Gpu, Device.Cpu, ["motion_detection", "ball_detection"], Created);
        job.Start(Created.AddSeconds(1));
        job.RecordFrameResult("frame-000001", 1, 33.3, "motion_detection", JsonSerializer.SerializeToElement(new { motion = 0.5 }), 12.345);
        job.ReportProgress(50);
        job.AddWarning("ball_detection: no ball (frame-000001)");
        return job;
    }

    [Fact]
    public void ToResponse_CopiesTheFiveLegacyFields()
    {
        var memento = RunningJobWithOneFrame().ToMemento();

        var response = memento.ToResponse();

        Assert.Equal(memento.Id.ToString(), response.JobId);
        Assert.Equal(("gpu", "cpu", true), (response.DeviceRequested, response.DeviceUsed, response.Fallback));
        var frame = Assert.Single(response.Frames);
        Assert.Equal(("frame-000001", 1, 33.3), (frame.FrameId, frame.Index, frame.TimestampMs));
        Assert.Equal(0.5, frame.Results["motion_detection"].GetProperty("motion").GetDouble());
    }

    [Fact]
    public void ToSummary_HasTheJobStateWithTimingsToOneDecimalAndUtcTimes()
    {
        var memento = RunningJobWithOneFrame().ToMemento();

        var extended = memento.ToSummary();

        Assert.Equal(memento.ToResponse().JobId, extended.JobId);
        Assert.Equal(("gpu", "cpu", true), (extended.DeviceRequested, extended.DeviceUsed, extended.Fallback));
        Assert.Equal(50, extended.Progress);
        Assert.Equal(12.3, extended.PluginTimings!["motion_detection"]);
        Assert.Equal(["ball_detection: no ball (frame-000001)"], extended.Warnings!);
        Assert.Equal("running", extended.Status);
        Assert.Null(extended.Error);
        Assert.Equal(Created.UtcDateTime, extended.CreatedAt);
        Assert.Equal(DateTimeKind.Utc, extended.CreatedAt.Kind);
        Assert.Equal(Created.AddSeconds(1).UtcDateTime, extended.StartedAt);
        Assert.Null(extended.CompletedAt);
    }

    [Fact]
    public void ToSummary_QueuedJob_HasNullsWhereNothingHappenedYet()
    {
        var memento = Job.Queue(Guid.NewGuid(), "clip.mp4", Device.Cpu, Device.Cpu, ["motion_detection"], Created).ToMemento();

        // As GET /v1/jobs/{id}/extended builds it (JobJsonWriter): the legacy fields, then the summary's state.
        var extended = ExtendedJobResponse.From(memento.ToResponse(), memento.ToSummary());

        Assert.Null(extended.Progress);
        Assert.Null(extended.PluginTimings);
        Assert.Null(extended.Warnings);
        Assert.Equal("queued", extended.Status);
        Assert.Empty(extended.Frames);
        Assert.False(extended.Fallback);
    }
}
