using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Domain.Jobs;
using MediatR;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Jobs.RunJob;

/// <summary>
/// At start-up: jobs left running by a stopped server are failed with a reason, and their event log is ended the way a
/// job's stream ends (an <c>error</c> with <c>WORKER_LOST</c>, then progress 100 <c>failed</c>), so a resuming client
/// learns it; queued jobs are queued again, oldest first. Nothing accepted is silently lost.
/// </summary>
public sealed record RecoverJobs : IRequest<RecoveredJobs>;

public sealed record RecoveredJobs(int Requeued, int Failed);

internal sealed partial class RecoverJobsHandler(
    IJobRepository repository,
    IJobQueue queue,
    JobEnding ending,
    ILogger<RecoverJobsHandler> logger)
    : IRequestHandler<RecoverJobs, RecoveredJobs>
{
    public const string InterruptedReason = "the server stopped while the job was running; submit it again";

    public async Task<RecoveredJobs> Handle(RecoverJobs request, CancellationToken cancellationToken)
    {
        int requeued = 0, failed = 0;
        foreach (var job in await repository.ListUnfinishedAsync(cancellationToken).ConfigureAwait(false))
        {
            if (job.Status == JobStatus.Running)
            {
                await ending.EndLostAsync(job.ToMemento(includeFrames: false), InterruptedReason, InterruptedReason, cancellationToken).ConfigureAwait(false);
                LogFailed(job.Id);
                failed++;
            }
            else
            {
                await queue.EnqueueAsync(job.Id, cancellationToken).ConfigureAwait(false);
                requeued++;
            }
        }

        if (requeued + failed > 0)
        {
            LogRecovered(requeued, failed);
        }

        return new RecoveredJobs(requeued, failed);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was running when the server stopped; marked failed")]
    private partial void LogFailed(Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovered jobs after restart: {Requeued} queued again, {Failed} failed")]
    private partial void LogRecovered(int requeued, int failed);
}
