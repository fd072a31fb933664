using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Jobs;
using FluentValidation;
using MediatR;

namespace CleanRealtime.Application.Jobs.GetJobEvents;

/// <summary>
/// A page of a job's realtime messages with <c>seq</c> after <see cref="Since"/> (API.md §2.7): the same log that
/// realtime resume reads, for REST clients and for filling a slow consumer's gaps.
/// </summary>
public sealed record GetJobEvents(Guid JobId, string? Since, string? Limit) : IRequest<JobEventsPage>
{
    public const int DefaultLimit = 500;
    public const int MaxLimit = 1000;
}

/// <param name="Items">The messages, each the envelope exactly as subscribers received it.</param>
/// <param name="NextSince">The <c>since</c> of the next page: the last <c>seq</c> of this one (or the request's <c>since</c>).</param>
/// <param name="Finished">The job has ended and this page reaches its last message.</param>
public sealed record JobEventsPage(IReadOnlyList<OutboundMessage> Items, long NextSince, bool Finished);

internal sealed class GetJobEventsValidator : AbstractValidator<GetJobEvents>
{
    public GetJobEventsValidator()
    {
        RuleFor(r => r.Since).Must(s => s is null || ResumePoint.TryParse(s, out _)).WithMessage(ResumePoint.Rule)
            .OverridePropertyName("since");
        RuleFor(r => r.Limit)
            .Must(l => l is null || (int.TryParse(l, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
                                     && n is >= 1 and <= GetJobEvents.MaxLimit))
            .WithMessage($"'limit' must be an integer between 1 and {GetJobEvents.MaxLimit}.")
            .OverridePropertyName("limit");
    }
}

internal sealed class GetJobEventsHandler(IMediator mediator, JobHistory history) : IRequestHandler<GetJobEvents, JobEventsPage>
{
    public async Task<JobEventsPage> Handle(GetJobEvents request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);

        var job = await mediator.Send(new Jobs.GetJob.GetJob(request.JobId), cancellationToken).ConfigureAwait(false);
        var since = request.Since is null ? 0 : long.Parse(request.Since, System.Globalization.CultureInfo.InvariantCulture);
        var limit = request.Limit is null ? GetJobEvents.DefaultLimit : int.Parse(request.Limit, System.Globalization.CultureInfo.InvariantCulture);

        var range = await history.RangeAsync(job.Id, cancellationToken).ConfigureAwait(false);
        // A resume point past the job's last seq has nothing to replay; not since + 1, which overflows at long.MaxValue.
        if (range is not null && since < range.FirstSeq - 1)
        {
            throw new ReplayUnavailableException(job.Id, range.FirstSeq);
        }

        // A page stops before messages that were never stored; a page that starts there is a 410 naming them.
        var page = await history.ReadPageAsync(job.Id, since, limit, cancellationToken).ConfigureAwait(false);
        if (page.Missing is { } missing)
        {
            throw missing;
        }

        var items = page.Items;
        var next = items.Count > 0 ? items[^1].Seq!.Value : since;
        // A job that ended before it published anything (or before the log existed) has nothing to wait for.
        var finished = job.Status.IsFinished() && (range is null || (range.Ended && next >= range.LastSeq));
        return new JobEventsPage(items, next, finished);
    }
}
