using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using MediatR;

namespace CleanRealtime.Application.Jobs.GetJob;

/// <summary>
/// Reads one job as it stands now: a running job from its live aggregate (every event already folded in), any other from
/// the repository. Both the legacy and the extended endpoint read through this one request.
/// </summary>
public sealed record GetJob(Guid JobId) : IRequest<JobMemento>;

public sealed class GetJobHandler(LiveJobs live, IJobRepository repository) : IRequestHandler<GetJob, JobMemento>
{
    public async Task<JobMemento> Handle(GetJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (live.TryGet(request.JobId, out var running))
        {
            return running.Snapshot();
        }

        var job = await repository.FindAsync(request.JobId, cancellationToken).ConfigureAwait(false);
        return job?.ToMemento() ?? throw new NotFoundException($"Job {request.JobId} does not exist.");
    }
}
