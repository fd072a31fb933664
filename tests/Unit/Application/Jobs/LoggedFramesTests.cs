using System.Text;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

/// <summary>A lost job's frames that only its event log holds, added back to its stored frames before its end is stored.</summary>
public sealed class LoggedFramesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] Plugins = ["frame_quality", "pitch_detection"];
    private readonly Guid _jobId = Guid.NewGuid();
    private long _seq;

    [Fact]
    public void Rebuild_LogHoldsFramesPastTheLastCheckpoint_AddsThemWithTheirPluginsAndTheStoredRate()
    {
        // Stored: frames 1 and 2 (at 10 fps); frame 2 lacks pitch_detection. Log: every result of frames 1..4, frame 4 only partly.
        var stored = new[] { Stored(1, 100, Plugins), Stored(2, 200, ["frame_quality"]) };
        var log = new List<JobEvent>
        {
            Progress(), Frame(1, "frame_quality"), Frame(1, "pitch_detection"), Frame(2, "frame_quality"), Frame(2, "pitch_detection", 2.5),
            Frame(3, "frame_quality", 1.5), Frame(3, "pitch_detection", 2), Progress(), Frame(4, "frame_quality", 1),
        };

        var (job, added, skipped) = LoggedFrames.Rebuild(RunningState(), stored, log);

        Assert.Equal(4, added);
        Assert.Equal(0, skipped);
        Assert.Equal(["frame-000001", "frame-000002", "frame-000003", "frame-000004"], job.Frames.Select(f => f.FrameId));
        Assert.Equal([100.0, 200, 300, 400], job.Frames.Select(f => f.TimestampMs));
        Assert.Equal(Plugins, job.Frames[1].Results.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(Plugins, job.Frames[2].Results.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["frame_quality"], job.Frames[3].Results.Keys);
        Assert.Equal(3, job.Frames[2].Results["frame_quality"].GetProperty("index").GetInt32());

        // The stored totals (what the checkpoint had) grow by the timings of the results added back.
        Assert.Equal(10 + 1.5 + 1, job.PluginTimings["frame_quality"], 6);
        Assert.Equal(20 + 2.5 + 2, job.PluginTimings["pitch_detection"], 6);
    }

    [Fact]
    public void Rebuild_NothingStored_StampsFramesAtThirtyFpsAndSkipsWhatIsNotAResultOfTheJob()
    {
        var log = new List<JobEvent>
        {
            Frame(1, "frame_quality"), Frame(1, "frame_quality"), Frame(2, "not_a_plugin_of_the_job"), Frame(3, "pitch_detection"),
            Raw(MessageType.Frame, """{"type":"frame","payload":{"frame_id":"frame-7","plugin":"frame_quality","data":{},"timing_ms":1}}"""),
        };

        var (job, added, skipped) = LoggedFrames.Rebuild(RunningState(), [], log);

        Assert.Equal(2, added);
        Assert.Equal(3, skipped);
        Assert.Equal([1, 3], job.Frames.Select(f => f.Index));
        Assert.Equal([33.3, 100.0], job.Frames.Select(f => f.TimestampMs));
    }

    [Fact]
    public void Rebuild_LogHoldsNothingNew_LeavesTheStoredFramesAsTheyAre()
    {
        var stored = new[] { Stored(5, 500, Plugins) };

        var (job, added, skipped) = LoggedFrames.Rebuild(RunningState(), stored, [Frame(4, "frame_quality"), Frame(5, "pitch_detection")]);

        Assert.Equal((0, 0), (added, skipped));
        Assert.Equal(stored, job.Frames);
        Assert.Equal(10, job.PluginTimings["frame_quality"], 6);
    }

    [Fact]
    public async Task RestoreAsync_ReadsTheLastStoredFramesAndEveryPageOfTheLog()
    {
        var repository = Substitute.For<IJobRepository>();
        var log = Substitute.For<IJobEventLog>();
        repository.ReadFramesAsync(_jobId, 0, 0, Arg.Any<CancellationToken>()).Returns(new FramePage([], 3));
        repository.ReadFramesAsync(_jobId, 1, 2, Arg.Any<CancellationToken>())
            .Returns(new FramePage([Stored(2, 66.6, Plugins), Stored(3, 99.9, Plugins)], 3));

        // A first page full of progress messages, then the frames after the stored ones on the second page.
        var first = Enumerable.Range(0, LoggedFrames.PageSize).Select(_ => Progress()).ToList();
        var second = new List<JobEvent> { Frame(3, "frame_quality"), Frame(4, "frame_quality"), Frame(4, "pitch_detection") };
        log.ReadAsync(_jobId, 0, LoggedFrames.PageSize, Arg.Any<CancellationToken>()).Returns(first);
        log.ReadAsync(_jobId, first[^1].Seq, LoggedFrames.PageSize, Arg.Any<CancellationToken>()).Returns(second);

        var job = await new LoggedFrames(repository, log, NullLogger<LoggedFrames>.Instance).RestoreAsync(RunningState(), CancellationToken.None);

        Assert.Equal([2, 3, 4], job.Frames.Select(f => f.Index));
        Assert.Equal(133.2, job.Frames[^1].TimestampMs);
        Assert.Equal(Plugins, job.Frames[^1].Results.Keys.Order(StringComparer.Ordinal));
    }

    private JobMemento RunningState()
    {
        var job = Job.Queue(_jobId, "synthetic:pitch?frames=100&fps=10", Device.Cpu, Device.Cpu, Plugins, Now);
        job.Start(Now);
        return job.ToMemento(includeFrames: false) with
        {
            PluginTimings = new Dictionary<string, double>(StringComparer.Ordinal) { ["frame_quality"] = 10, ["pitch_detection"] = 20 },
        };
    }

    private static FrameResult Stored(int index, double timestampMs, IEnumerable<string> plugins) =>
        new(FrameResult.IdFor(index), index, timestampMs, plugins.ToDictionary(p => p, _ => Data(index), StringComparer.Ordinal));

    private static JsonElement Data(int index) => JsonSerializer.SerializeToElement(new { index });

    private JobEvent Frame(int index, string plugin, double timingMs = 1) => Raw(
        MessageType.Frame,
        JsonSerializer.Serialize(new
        {
            type = "frame",
            payload = new { job_id = _jobId, frame_id = FrameResult.IdFor(index), plugin, data = new { index }, timing_ms = timingMs },
            timestamp = "2026-12-07T12:00:00.0000000Z",
            seq = _seq + 1,
        }));

    private JobEvent Progress() => Raw(MessageType.Progress, """{"type":"progress","payload":{"progress":1}}""");

    private JobEvent Raw(MessageType type, string json) => new(_jobId, ++_seq, type, Encoding.UTF8.GetBytes(json), Now, false);
}
