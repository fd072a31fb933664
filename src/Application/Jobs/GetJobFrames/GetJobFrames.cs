using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Projection;
using FluentValidation;
using MediatR;

namespace CleanRealtime.Application.Jobs.GetJobFrames;

/// <summary>
/// A page of a job's analysed frames, in order: a running job's from its live aggregate, any other's from the store.
/// What one response holds is bounded by <see cref="MaxLimit"/>, however long the video.
/// </summary>
public sealed record GetJobFrames(Guid JobId, int Offset = 0, int? Limit = null) : IRequest<FramePage>
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
}

internal sealed class GetJobFramesValidator : AbstractValidator<GetJobFrames>
{
    public GetJobFramesValidator()
    {
        RuleFor(r => r.Offset).GreaterThanOrEqualTo(0).WithMessage("'offset' must be 0 or more.").OverridePropertyName("offset");
        RuleFor(r => r.Limit)
            .InclusiveBetween(1, GetJobFrames.MaxLimit).When(r => r.Limit is not null)
            .WithMessage($"'limit' must be between 1 and {GetJobFrames.MaxLimit}.")
            .OverridePropertyName("limit");
    }
}

internal sealed class GetJobFramesHandler(LiveJobs live, IJobRepository repository) : IRequestHandler<GetJobFrames, FramePage>
{
    public async Task<FramePage> Handle(GetJobFrames request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var limit = request.Limit ?? GetJobFrames.DefaultLimit;
        if (live.TryGet(request.JobId, out var running))
        {
            return running.Frames(request.Offset, limit);
        }

        return await repository.ReadFramesAsync(request.JobId, request.Offset, limit, cancellationToken).ConfigureAwait(false)
               ?? throw new NotFoundException($"Job {request.JobId} does not exist.");
    }
}
