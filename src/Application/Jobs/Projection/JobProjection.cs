using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using MediatR;

namespace CleanRealtime.Application.Jobs.Projection;

/// <summary>
/// Folds the runner's events into the live <see cref="Job"/> aggregate. The start is saved before the event goes on to
/// other handlers; per-frame changes are checkpointed in the background; the end is saved by
/// <see cref="StoreFinalStateAsync"/> once the job's event log is complete.
/// </summary>
public sealed class JobProjection(LiveJobs live, JobCheckpointer checkpointer, JobStreams streams) :
    INotificationHandler<JobStarted>,
    INotificationHandler<DeviceFellBack>,
    INotificationHandler<FrameAnalyzed>,
    INotificationHandler<ProgressChanged>,
    INotificationHandler<PluginWarned>,
    INotificationHandler<PluginFailed>,
    INotificationHandler<PluginCompleted>,
    INotificationHandler<JobFinished>
{
    public Task Handle(JobStarted notification, CancellationToken cancellationToken) =>
        ApplyAndSaveAsync(notification.JobId, job => job.Start(notification.At), cancellationToken);

    public Task Handle(DeviceFellBack notification, CancellationToken cancellationToken) =>
        Apply(notification.JobId, job => job.AddWarning($"{ErrorCodes.DeviceUnavailable}: {notification.Message}"));

    public Task Handle(FrameAnalyzed n, CancellationToken cancellationToken) =>
        Apply(n.JobId, job => job.RecordFrameResult(n.FrameId, n.Index, n.TimestampMs, n.Plugin, n.Data, n.TimingMs));

    public Task Handle(ProgressChanged notification, CancellationToken cancellationToken)
    {
        Apply(notification.JobId, job => job.ReportProgress(notification.Progress));
        checkpointer.Request(notification.JobId);
        return Task.CompletedTask;
    }

    public Task Handle(PluginWarned notification, CancellationToken cancellationToken) =>
        Apply(notification.JobId, job => job.AddWarning(notification.Text));

    public Task Handle(PluginFailed n, CancellationToken cancellationToken) =>
        Apply(n.JobId, job =>
        {
            job.SettlePluginTiming(n.Plugin, n.TimingMs);
            job.AddWarning($"{n.Plugin}: {n.ErrorCode}: {n.Message}");
        });

    public Task Handle(PluginCompleted n, CancellationToken cancellationToken) =>
        Apply(n.JobId, job => job.SettlePluginTiming(n.Plugin, n.TimingMs));

    /// <summary>Folds the end into the live job; <see cref="StoreFinalStateAsync"/> stores it after the final message is logged.</summary>
    public Task Handle(JobFinished n, CancellationToken cancellationToken) =>
        Apply(n.JobId, j =>
        {
            switch (n.Status)
            {
                case JobStatus.Completed:
                    j.Complete(n.At);
                    break;
                case JobStatus.Cancelled:
                    j.Cancel(n.At);
                    break;
                case JobStatus.Failed:
                    j.Fail(n.Error ?? "failed", n.At);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(n), n.Status, "A job finishes completed, cancelled or failed.");
            }
        });

    /// <summary>
    /// After <see cref="JobFinished"/> was published: waits until every message of the job is in the event log, then
    /// saves the job's final state, so a stored finished job is always fully replayable. Readers switch to the
    /// repository only once the final state is stored there.
    /// </summary>
    public async Task StoreFinalStateAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await streams.CompleteAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (live.TryGet(jobId, out var job) && await checkpointer.SaveNowAsync(job.Snapshot(), cancellationToken).ConfigureAwait(false))
        {
            live.End(jobId);
        }
    }

    private Task Apply(Guid jobId, Action<Job> change)
    {
        if (live.TryGet(jobId, out var job))
        {
            job.Apply(change);
        }

        return Task.CompletedTask;
    }

    private async Task ApplyAndSaveAsync(Guid jobId, Action<Job> change, CancellationToken cancellationToken)
    {
        if (live.TryGet(jobId, out var job))
        {
            job.Apply(change);
            await checkpointer.SaveNowAsync(job.Snapshot(), cancellationToken).ConfigureAwait(false);
        }
    }

}
