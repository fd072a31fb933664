using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using MediatR;

namespace CleanRealtime.Application.Jobs.GetJob;

/// <summary>
/// Reads one job as it stands now: a running job from its live aggregate (every event already folded in), any other from
/// the repository. Both the legacy and the extended endpoint read through this one request.
/// </summary>
/// <param name="WithFrames">False to read the job's state alone, without copying or loading its frames.</param>
public sealed record GetJob(Guid JobId, bool WithFrames = true) : IRequest<JobMemento>;

public sealed class GetJobHandler(LiveJobs live, IJobRepository repository) : IRequestHandler<GetJob, JobMemento>
{
    public async Task<JobMemento> Handle(GetJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (live.TryGet(request.JobId, out var running))
        {
            return running.Snapshot(request.WithFrames);
        }

        var job = request.WithFrames
            ? (await repository.FindAsync(request.JobId, cancellationToken).ConfigureAwait(false))?.ToMemento()
            : await repository.FindStateAsync(request.JobId, cancellationToken).ConfigureAwait(false);
        return job ?? throw new NotFoundException($"Job {request.JobId} does not exist.");
    }
}
