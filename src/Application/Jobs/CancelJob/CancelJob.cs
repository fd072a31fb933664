using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Common;
using CleanRealtime.Domain.Jobs;
using MediatR;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Jobs.CancelJob;

/// <summary>
/// Stops a job: a running one before its next frame, a queued one at once. A finished job cannot be cancelled (409).
/// Answers the job's state (without frames) when the request was taken.
/// </summary>
public sealed record CancelJob(Guid JobId) : IRequest<JobMemento>;

internal sealed partial class CancelJobHandler(
    LiveJobs live,
    IJobRepository repository,
    JobEnding ending,
    ILogger<CancelJobHandler> logger)
    : IRequestHandler<CancelJob, JobMemento>
{
    public async Task<JobMemento> Handle(CancelJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (live.TryGet(request.JobId, out var running))
        {
            // A finished job stays live until its final state is stored: it is finished all the same.
            var snapshot = running.Snapshot(includeFrames: false);
            EnsureNotFinished(snapshot.Id, snapshot.Status);
            live.RequestCancel(request.JobId);
            LogCancelRequested(request.JobId, "running");
            return snapshot;
        }

        // The state alone: a finished job's frames are never loaded just to answer 409.
        var state = await repository.FindStateAsync(request.JobId, cancellationToken).ConfigureAwait(false)
                    ?? throw new NotFoundException($"Job {request.JobId} does not exist.");
        EnsureNotFinished(state.Id, state.Status);

        // Flag first, here and in the store: a worker that picks the job up from now on, on this node or another, sees
        // the request before it starts any frame; a worker on another node running it reads the stored flag.
        live.RequestCancel(request.JobId);
        await repository.RequestCancelAsync(request.JobId, cancellationToken).ConfigureAwait(false);
        if (live.TryGet(request.JobId, out running))
        {
            var snapshot = running.Snapshot(includeFrames: false);
            EnsureNotFinished(snapshot.Id, snapshot.Status);
            LogCancelRequested(request.JobId, "starting");
            return snapshot;
        }

        if (state.Status == JobStatus.Running)
        {
            LogCancelRequested(request.JobId, "running on another node");
            return state;
        }

        // Only a queued job gets here, and a queued job has no frames: its state is the whole job.
        var cancelled = await ending.CancelQueuedAsync(state, cancellationToken).ConfigureAwait(false);
        LogCancelRequested(request.JobId, "queued");
        return cancelled;
    }

    private static void EnsureNotFinished(Guid jobId, JobStatus status)
    {
        if (status.IsFinished())
        {
            throw new DomainRuleException($"Job {jobId} is already {status.ToWire()} and cannot be cancelled.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} cancelled while {State}")]
    private partial void LogCancelRequested(Guid jobId, string state);
}
