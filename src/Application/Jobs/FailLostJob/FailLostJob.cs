using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using MediatR;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Jobs.FailLostJob;

/// <summary>
/// A running job whose worker stopped renewing its lease (the node died or lost the database): failed with
/// <c>WORKER_LOST</c>, so nobody waits for it forever. Sent by the lease reaper of the node that claimed the lost job
/// (one node per job). False when nothing was done: the job is no longer running, or the backplane cannot say which
/// <c>seq</c> its worker published last (the reaper gives the job back and tries again in its next round).
/// </summary>
public sealed record FailLostJob(Guid JobId) : IRequest<bool>;

internal sealed partial class FailLostJobHandler(IJobRepository repository, JobEnding ending, ILogger<FailLostJobHandler> logger)
    : IRequestHandler<FailLostJob, bool>
{
    public const string Reason = "the worker running the job stopped answering (its lease expired); submit it again";

    public async Task<bool> Handle(FailLostJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The state alone: the frames already stored stay as they are (those only its log holds are added to them).
        var state = await repository.FindStateAsync(request.JobId, cancellationToken).ConfigureAwait(false);
        if (state is not { Status: JobStatus.Running })
        {
            return false;
        }

        // Its stream is ended in the log before its final state is stored, as for a job that ends on its own.
        try
        {
            await ending.EndLostAsync(state, $"{ErrorCodes.WorkerLost}: {Reason}", Reason, cancellationToken).ConfigureAwait(false);
        }
        catch (PublishedSeqsUnavailableException ex)
        {
            // Numbering the end without knowing what was delivered could give a seq twice: wait for the backplane.
            LogDeferred(ex, request.JobId);
            return false;
        }

        LogLost(request.JobId);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: its worker's lease expired (WORKER_LOST)")]
    private partial void LogLost(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} lost its worker, but the backplane cannot say which messages it published; failing it waits for the next round")]
    private partial void LogDeferred(Exception exception, Guid jobId);
}
