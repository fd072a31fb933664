using CleanRealtime.Application.Execution;
using MediatR;

namespace CleanRealtime.Application.Jobs.RunJob;

/// <summary>Runs one queued job to its end (sent by a worker).</summary>
public sealed record RunJob(Guid JobId) : IRequest<Unit>;

internal sealed class RunJobHandler(ToolRunner runner) : IRequestHandler<RunJob, Unit>
{
    public async Task<Unit> Handle(RunJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await runner.RunAsync(request.JobId, cancellationToken).ConfigureAwait(false);
        return Unit.Value;
    }
}
