using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using MediatR;

namespace CleanRealtime.Application.Jobs.GetJob;

/// <summary>
/// Reads one job's state as it stands now, without its frames (they are read a page at a time with
/// <see cref="GetJobFrames.GetJobFrames"/>): a running job from its live aggregate (every event already folded in), any
/// other from the repository.
/// </summary>
public sealed record GetJob(Guid JobId) : IRequest<JobMemento>;

internal sealed class GetJobHandler(LiveJobs live, IJobRepository repository) : IRequestHandler<GetJob, JobMemento>
{
    public async Task<JobMemento> Handle(GetJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (live.TryGet(request.JobId, out var running))
        {
            return running.Snapshot(includeFrames: false);
        }

        return await repository.FindStateAsync(request.JobId, cancellationToken).ConfigureAwait(false)
               ?? throw new NotFoundException($"Job {request.JobId} does not exist.");
    }
}
