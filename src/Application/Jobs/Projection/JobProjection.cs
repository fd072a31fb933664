using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using MediatR;

namespace CleanRealtime.Application.Jobs.Projection;

/// <summary>
/// Folds the runner's events into the live <see cref="Job"/> aggregate. Not a notification handler: <see cref="JobEvents"/>
/// applies each event here before it publishes it, so every handler sees the job with the event already folded in. The
/// start is saved before the event goes on; per-frame changes are checkpointed in the background; the end is stored by
/// <see cref="JobEnding"/> once the job's event log is complete.
/// </summary>
internal sealed class JobProjection(LiveJobs live, JobCheckpointer checkpointer)
{
    /// <summary>Folds one event into its live job (nothing for a job that does not run here). Completes at once but for the start.</summary>
    public Task ApplyAsync(INotification notification)
    {
        switch (notification)
        {
            case FrameAnalyzed n:
                Apply(n.JobId, job => job.RecordFrameResult(n.FrameId, n.Index, n.TimestampMs, n.Plugin, n.Data, n.TimingMs));
                break;
            case ProgressChanged n:
                Apply(n.JobId, job => job.ReportProgress(n.Progress));
                checkpointer.Request(n.JobId);
                break;
            case PluginWarned n:
                Apply(n.JobId, job => job.AddWarning(n.Text));
                break;
            case JobStarted n:
                return ApplyAndSaveAsync(n.JobId, job => job.Start(n.At));
            case DeviceFellBack n:
                Apply(n.JobId, job => job.AddWarning($"{ErrorCodes.DeviceUnavailable}: {n.Message}"));
                break;
            case PluginFailed n:
                Apply(n.JobId, job =>
                {
                    job.SettlePluginTiming(n.Plugin, n.TimingMs);
                    job.AddWarning($"{n.Plugin}: {n.ErrorCode}: {n.Message}");
                });
                break;
            case PluginCompleted n:
                Apply(n.JobId, job => job.SettlePluginTiming(n.Plugin, n.TimingMs));
                break;
            case JobFinished n:
                Apply(n.JobId, job => JobEnding.Settle(job, n));
                break;
        }

        return Task.CompletedTask;
    }

    private void Apply(Guid jobId, Action<Job> change)
    {
        if (live.TryGet(jobId, out var job))
        {
            job.Apply(change);
        }
    }

    private async Task ApplyAndSaveAsync(Guid jobId, Action<Job> change)
    {
        if (live.TryGet(jobId, out var job))
        {
            job.Apply(change);
            await checkpointer.SaveNowAsync(job.Snapshot(), CancellationToken.None).ConfigureAwait(false);
        }
    }
}
