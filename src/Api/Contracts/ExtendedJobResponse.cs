using System.Text.Json.Serialization;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Api.Contracts;

/// <summary>
/// <c>GET /v1/jobs/{id}/extended</c>: every <see cref="JobResponse"/> field, unchanged and first, plus the job's live
/// state. Built from a <see cref="JobResponse"/> (never the other way round); invalid values are refused on creation.
/// </summary>
public sealed record ExtendedJobResponse
{
    private static readonly IReadOnlyList<string> Statuses = JobStatusExtensions.WireNames;
    private readonly int? _progress;
    private readonly IReadOnlyDictionary<string, double>? _pluginTimings;
    private readonly string _status = "queued";

    public required string JobId { get; init; }
    public required string DeviceRequested { get; init; }
    public required string DeviceUsed { get; init; }
    public required bool Fallback { get; init; }
    public required IReadOnlyList<FrameResponse> Frames { get; init; }

    /// <summary>0–100, or null before the job starts.</summary>
    public int? Progress
    {
        get => _progress;
        init => _progress = value is null or (>= 0 and <= 100)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Progress), value, "progress must be between 0 and 100.");
    }

    /// <summary>Milliseconds spent in each plugin over all frames so far (one decimal), or null before any plugin ran.</summary>
    public IReadOnlyDictionary<string, double>? PluginTimings
    {
        get => _pluginTimings;
        init => _pluginTimings = value is null || value.Values.All(ms => double.IsFinite(ms) && ms >= 0)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(PluginTimings), "plugin timings must be finite and >= 0.");
    }

    /// <summary>In the order raised, never de-duplicated; null when there are none.</summary>
    public IReadOnlyList<string>? Warnings { get; init; }

    [JsonRequired]
    public required string Status
    {
        get => _status;
        init => _status = Statuses.Contains(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Status), value, $"status must be one of {string.Join(", ", Statuses)}.");
    }

    public string? Error { get; init; }
    public required DateTime CreatedAt { get; init; }
    public DateTime? StartedAt { get; init; }
    public DateTime? CompletedAt { get; init; }

    /// <summary>
    /// The legacy fields from <paramref name="legacy"/>, the job's state from <paramref name="summary"/>: the summary
    /// (what <c>GET /v1/jobs</c> lists) is the one source of every field that is not in the legacy shape.
    /// </summary>
    public static ExtendedJobResponse From(JobResponse legacy, JobSummaryResponse summary)
    {
        ArgumentNullException.ThrowIfNull(legacy);
        ArgumentNullException.ThrowIfNull(summary);
        return new ExtendedJobResponse
        {
            JobId = legacy.JobId,
            DeviceRequested = legacy.DeviceRequested,
            DeviceUsed = legacy.DeviceUsed,
            Fallback = legacy.Fallback,
            Frames = legacy.Frames,
            Progress = summary.Progress,
            PluginTimings = summary.PluginTimings,
            Warnings = summary.Warnings,
            Status = summary.Status,
            Error = summary.Error,
            CreatedAt = summary.CreatedAt,
            StartedAt = summary.StartedAt,
            CompletedAt = summary.CompletedAt,
        };
    }
}

/// <summary>
/// One job in <c>GET /v1/jobs</c>: the extended fields without frames (API.md §2.2), built by
/// <see cref="JobMapping.ToSummary"/> and the source of <see cref="ExtendedJobResponse"/>'s state fields.
/// </summary>
public sealed record JobSummaryResponse(
    string JobId,
    string DeviceRequested,
    string DeviceUsed,
    bool Fallback,
    int? Progress,
    IReadOnlyDictionary<string, double>? PluginTimings,
    IReadOnlyList<string>? Warnings,
    string Status,
    string? Error,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt);

/// <summary><c>GET /v1/jobs/{id}/frames</c>: a page of frames, how many the job has, and where the next page starts (null at the end).</summary>
public sealed record JobFramesResponse(IReadOnlyList<FrameResponse> Items, int Total, int? NextOffset);

public sealed record JobListResponse(IReadOnlyList<JobSummaryResponse> Items, string? NextCursor);

public sealed record CreateJobRequest(string? Source, string? DeviceRequested, IReadOnlyList<string>? Plugins);

public sealed record DeviceResponse(string Name, bool Available);

public sealed record DevicesResponse(string Default, IReadOnlyList<DeviceResponse> Devices);

public sealed record PluginResponse(string Plugin, PluginDescription Metadata);

public sealed record ConnectionStatsResponse(
    Guid ConnectionId,
    string Transport,
    Guid? JobId,
    DateTime ConnectedAt,
    int QueueDepth,
    long Sent,
    long Dropped,
    double? LastRoundTripMs);

public sealed record RealtimeStatsResponse(int Open, long Sent, long Dropped, IReadOnlyList<ConnectionStatsResponse> Connections, int? NextOffset);

