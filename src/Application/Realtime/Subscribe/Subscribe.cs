using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.GetJob;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using FluentValidation;
using MediatR;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Realtime.Subscribe;

/// <summary>
/// What a new realtime subscriber receives (API.md §3.1, §3.8), for WebSocket and SSE alike: the welcome (one
/// <c>metadata</c> per plugin, a <c>ping</c>), then either the job's current <c>progress</c> (no <paramref name="Since"/>)
/// or a replay of the job's messages after <paramref name="Since"/> before the live ones. Unknown job:
/// <see cref="NotFoundException"/>; an invalid <paramref name="Since"/>: <see cref="RequestValidationException"/>.
/// </summary>
/// <param name="Since">The resume point as the client sent it (<c>since</c>, or SSE's <c>Last-Event-ID</c>).</param>
public sealed record Subscribe(Guid? JobId, string? Since = null) : IRequest<SubscriptionPlan>;

/// <summary>
/// The subscriber's start: <see cref="Welcome"/> is sent first; with <see cref="ReplayAfter"/>, the job's messages with a
/// greater <c>seq</c> follow (read with <see cref="JobHistory"/>), then the live ones not already replayed.
/// </summary>
public sealed record SubscriptionPlan(Guid? JobId, IReadOnlyList<OutboundMessage> Welcome, long? ReplayAfter);

internal sealed class SubscribeValidator : AbstractValidator<Subscribe>
{
    public SubscribeValidator()
    {
        RuleFor(s => s.Since)
            .Must(s => s is null || ResumePoint.TryParse(s, out _)).WithMessage(ResumePoint.Rule)
            .Must((s, since) => since is null || s.JobId is not null).WithMessage("'since' resumes one job's stream: it needs 'job_id'.")
            .OverridePropertyName("since");
    }
}

internal sealed class SubscribeHandler(
    IMediator mediator,
    PluginCatalog catalog,
    JobHistory history,
    RemoteJobStreams remote,
    RealtimeMessages messages,
    MessageSerializer serializer,
    IOptions<RealtimeOptions> options) : IRequestHandler<Subscribe, SubscriptionPlan>
{
    public async Task<SubscriptionPlan> Handle(Subscribe request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var job = request.JobId is { } id
            ? await mediator.Send(new GetJob(id), cancellationToken).ConfigureAwait(false)
            : null;

        var welcome = new List<OutboundMessage>();
        var plugins = job is null ? catalog.All : job.Plugins.Where(catalog.Contains).Select(catalog.Get);
        foreach (var plugin in plugins)
        {
            Add(welcome, plugin.ToMetadataPayload());
        }

        Add(welcome, new PingPayload((int)Math.Ceiling(options.Value.PingInterval.TotalSeconds)));
        if (job is null)
        {
            return new SubscriptionPlan(null, welcome, null);
        }

        if (request.Since is null)
        {
            if (job.Status != JobStatus.Queued)
            {
                await AddSnapshotAsync(welcome, job, cancellationToken).ConfigureAwait(false);
            }

            if (job.Status is JobStatus.Queued or JobStatus.Running && remote.RunsElsewhere(job.Id))
            {
                // Another node publishes the job: the live feed reaches this node through the backplane, so the
                // subscriber follows on from what the log holds now, which its snapshot is part of (no gap, no duplicate).
                var stored = await history.RangeAsync(job.Id, cancellationToken).ConfigureAwait(false);
                return new SubscriptionPlan(job.Id, welcome, stored?.LastSeq ?? 0);
            }

            return new SubscriptionPlan(job.Id, welcome, null);
        }

        var since = long.Parse(request.Since, System.Globalization.CultureInfo.InvariantCulture);
        var range = await history.RangeAsync(job.Id, cancellationToken).ConfigureAwait(false);
        // A resume point past the job's last seq has nothing to replay; not since + 1, which overflows at long.MaxValue.
        if (range is not null && since < range.FirstSeq - 1)
        {
            Add(welcome, new ReplayUnavailableException(job.Id, range.FirstSeq).ToErrorPayload());
            since = range.FirstSeq - 1;
        }

        return new SubscriptionPlan(job.Id, welcome, since);
    }

    /// <summary>The job's last <c>progress</c> as it was published (with its seq); built from its state when no longer kept.</summary>
    private async Task AddSnapshotAsync(List<OutboundMessage> welcome, JobMemento job, CancellationToken cancellationToken)
    {
        if (await history.LastProgressAsync(job.Id, cancellationToken).ConfigureAwait(false) is { } published)
        {
            welcome.Add(published);
            return;
        }

        Add(welcome, new ProgressPayload(job.Id, job.Progress ?? 0, job.Status == JobStatus.Running ? ProgressStages.Analyzing : job.Status.ToWire()));
    }

    private void Add(List<OutboundMessage> welcome, RealtimePayload payload)
    {
        if (messages.TryCreate(payload, out var message))
        {
            welcome.Add(serializer.ToOutbound(message));
        }
    }
}
