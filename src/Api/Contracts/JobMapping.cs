using CleanRealtime.Domain.Jobs;

namespace CleanRealtime.Api.Contracts;

/// <summary>Hand-written mapping from the job's state to the wire shapes.</summary>
public static class JobMapping
{
    public static JobResponse ToResponse(this JobMemento job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new JobResponse
        {
            JobId = job.Id.ToString(),
            DeviceRequested = job.DeviceRequested.ToWire(),
            DeviceUsed = job.DeviceUsed.ToWire(),
            Fallback = job.Fallback,
            Frames = job.Frames.Select(ToResponse).ToList(),
        };
    }

    public static FrameResponse ToResponse(this FrameResult frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return new FrameResponse(frame.FrameId, frame.Index, frame.TimestampMs, frame.Results);
    }

    /// <summary>The job without its frames; timings to one decimal, times in UTC, empty lists as null.</summary>
    public static JobSummaryResponse ToSummary(this JobMemento job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new JobSummaryResponse(
            job.Id.ToString(),
            job.DeviceRequested.ToWire(),
            job.DeviceUsed.ToWire(),
            job.Fallback,
            job.Progress,
            job.PluginTimings.Count == 0 ? null : job.PluginTimings.ToDictionary(t => t.Key, t => Math.Round(t.Value, 1), StringComparer.Ordinal),
            job.Warnings.Count == 0 ? null : job.Warnings,
            job.Status.ToWire(),
            job.Error,
            job.CreatedAt.UtcDateTime,
            job.StartedAt?.UtcDateTime,
            job.CompletedAt?.UtcDateTime);
    }
}
