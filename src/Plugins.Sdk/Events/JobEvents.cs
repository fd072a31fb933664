using System.Text.Json;
using MediatR;

namespace CleanRealtime.Plugins.Sdk.Events;

// The job events a plugin assembly may handle with INotificationHandler<T> (API.md §7.1). The server delivers them
// after the job's own state has taken them in, in the order they happened for each job, off the job's path: a handler
// that is slow or throws is logged and never stops or slows the job.

/// <summary>A job began to run.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Source">Its source, as submitted.</param>
/// <param name="Plugins">The plugins it runs, in order.</param>
/// <param name="Device">The device it runs on: <c>cpu</c> or <c>gpu</c>.</param>
/// <param name="TotalFrames">How many frames it will analyse, when known.</param>
/// <param name="At">When it started.</param>
public sealed record JobStarted(Guid JobId, string Source, IReadOnlyList<string> Plugins, string Device, int? TotalFrames, DateTimeOffset At)
    : INotification;

/// <summary>One plugin's result for one frame.</summary>
/// <param name="JobId">The job.</param>
/// <param name="FrameId">The frame's id, e.g. <c>frame-000042</c>.</param>
/// <param name="Index">The frame's 1-based index.</param>
/// <param name="TimestampMs">The frame's presentation time in ms.</param>
/// <param name="Plugin">The plugin that produced the result.</param>
/// <param name="Data">The result as sent on the wire.</param>
/// <param name="TimingMs">How long the plugin took on this frame.</param>
public sealed record FrameAnalyzed(Guid JobId, string FrameId, int Index, double TimestampMs, string Plugin, JsonElement Data, double TimingMs)
    : INotification;

/// <summary>A plugin raised a warning.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Plugin">The plugin (or <c>server</c>, <c>source</c>).</param>
/// <param name="Message">What it said.</param>
/// <param name="Severity">How serious it is.</param>
/// <param name="FrameId">The frame it is about, if any.</param>
public sealed record PluginWarned(Guid JobId, string Plugin, string Message, WarningSeverity Severity, string? FrameId) : INotification;

/// <summary>A plugin stopped for this job; the job's other plugins go on.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Plugin">The plugin.</param>
/// <param name="ErrorCode">Why: <c>PLUGIN_CRASH</c>, <c>PLUGIN_TIMEOUT</c> or <c>PLUGIN_FAILED</c>.</param>
/// <param name="Message">What happened.</param>
public sealed record PluginFailed(Guid JobId, string Plugin, string ErrorCode, string Message) : INotification;

/// <summary>A job ended.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Status">How it ended.</param>
/// <param name="Error">Why it failed, when it did.</param>
/// <param name="At">When it ended.</param>
public sealed record JobFinished(Guid JobId, JobEndStatus Status, string? Error, DateTimeOffset At) : INotification;

/// <summary>How a job ended.</summary>
public enum JobEndStatus
{
    /// <summary>Every frame was analysed (a plugin may still have failed on its own).</summary>
    Completed,

    /// <summary>The job failed as a whole (its source, its worker, the server).</summary>
    Failed,

    /// <summary>A client cancelled it.</summary>
    Cancelled,
}
