using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using MediatR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Jobs.PurgeJobs;

/// <summary>Deletes the finished jobs that ended more than <c>Jobs:Retention</c> ago, with their frames; answers how many.</summary>
public sealed record PurgeExpiredJobs : IRequest<int>;

internal sealed partial class PurgeExpiredJobsHandler(
    IJobRepository repository, IOptions<JobsOptions> options, TimeProvider time, ILogger<PurgeExpiredJobsHandler> logger)
    : IRequestHandler<PurgeExpiredJobs, int>
{
    public async Task<int> Handle(PurgeExpiredJobs request, CancellationToken cancellationToken)
    {
        var retention = options.Value.Retention;
        var deleted = await repository.DeleteFinishedAsync(time.GetUtcNow() - retention, cancellationToken).ConfigureAwait(false);
        if (deleted > 0)
        {
            LogPurged(deleted, retention);
        }

        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} jobs that ended more than {Retention} ago (Jobs:Retention)")]
    private partial void LogPurged(int count, TimeSpan retention);
}
