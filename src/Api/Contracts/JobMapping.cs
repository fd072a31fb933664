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

    public static ExtendedJobResponse ToExtendedResponse(this JobMemento job) => ExtendedJobResponse.From(job.ToResponse(), job.ToState());

    public static JobSummaryResponse ToSummary(this JobMemento job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var state = job.ToState();
        return new JobSummaryResponse(
            job.Id.ToString(), job.DeviceRequested.ToWire(), job.DeviceUsed.ToWire(), job.Fallback, state.Progress, state.PluginTimings,
            state.Warnings, state.Status, state.Error, state.CreatedAt, state.StartedAt, state.CompletedAt);
    }

    public static JobState ToState(this JobMemento job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new JobState(
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
