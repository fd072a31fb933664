using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using MediatR;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Jobs.FailLostJob;

/// <summary>
/// A running job whose worker stopped renewing its lease (the node died or lost the database): failed with
/// <c>WORKER_LOST</c>, so nobody waits for it forever. Sent by the lease reaper of any node.
/// </summary>
public sealed record FailLostJob(Guid JobId) : IRequest<bool>;

public sealed partial class FailLostJobHandler(
    IJobRepository repository, LostJobStreams lostStreams, TimeProvider time, ILogger<FailLostJobHandler> logger)
    : IRequestHandler<FailLostJob, bool>
{
    public const string Reason = "the worker running the job stopped answering (its lease expired); submit it again";

    public async Task<bool> Handle(FailLostJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The state alone: the frames already stored stay as they are.
        var state = await repository.FindStateAsync(request.JobId, cancellationToken).ConfigureAwait(false);
        if (state is not { Status: JobStatus.Running })
        {
            return false;
        }

        var job = Job.Restore(state);
        job.Fail($"{ErrorCodes.WorkerLost}: {Reason}", time.GetUtcNow());

        // Its stream is ended in the log before its final state is stored, as for a job that ends on its own.
        await lostStreams.EndAsync(request.JobId, Reason, cancellationToken).ConfigureAwait(false);
        await repository.SaveAsync(job.ToMemento(), cancellationToken).ConfigureAwait(false);
        LogLost(request.JobId);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: its worker's lease expired (WORKER_LOST)")]
    private partial void LogLost(Guid jobId);
}
