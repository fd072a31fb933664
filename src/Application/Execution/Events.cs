using System.Text.Json;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using MediatR;

namespace CleanRealtime.Application.Execution;

// What the ToolRunner publishes while it runs a job, in this order (API.md §3.3). Add an
// INotificationHandler<T> for any of them to react to jobs.

public sealed record JobStarted(Guid JobId, Device DeviceUsed, int? TotalFrames, DateTimeOffset At) : INotification;

/// <summary>The requested device is not usable here; the job runs on <see cref="Used"/> instead.</summary>
public sealed record DeviceFellBack(Guid JobId, Device Requested, Device Used) : INotification
{
    public string Message => $"{Requested.ToWire()} requested but not available; running on {Used.ToWire()}";
}

public sealed record PluginStarted(Guid JobId, string Plugin) : INotification;

public sealed record FrameAnalyzed(
    Guid JobId, string FrameId, int Index, double TimestampMs, string Plugin, JsonElement Data, double TimingMs, Device DeviceUsed)
    : INotification;

public sealed record PartialResultReported(Guid JobId, string Plugin, JsonElement Result) : INotification;

public sealed record ProgressChanged(Guid JobId, int Progress, string? Stage = null, string? Plugin = null) : INotification;

public sealed record PluginWarned(Guid JobId, string Plugin, string Message, WarningSeverity Severity, string? FrameId) : INotification
{
    /// <summary>How the warning reads in the job's <c>warnings</c> list.</summary>
    public string Text => FrameId is null ? $"{Plugin}: {Message}" : $"{Plugin}: {Message} ({FrameId})";
}

/// <summary>A plugin stopped for this job (<c>PLUGIN_CRASH</c> or <c>PLUGIN_TIMEOUT</c>); the others go on.</summary>
public sealed record PluginFailed(
    Guid JobId, string Plugin, string ErrorCode, string Message, string? FrameId, double TimingMs, int FramesProcessed, int WarningsCount)
    : INotification;

public sealed record PluginCompleted(Guid JobId, string Plugin, double TimingMs, int FramesProcessed, int WarningsCount) : INotification;

/// <summary>The job failed before or outside any one plugin (e.g. <c>SOURCE_UNREADABLE</c>); followed by <see cref="JobFinished"/>.</summary>
public sealed record JobErrored(Guid JobId, string ErrorCode, string Message) : INotification;

public sealed record JobFinished(Guid JobId, JobStatus Status, string? Error, DateTimeOffset At) : INotification;
