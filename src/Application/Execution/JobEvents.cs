using CleanRealtime.Application.Jobs.Projection;
using MediatR;

namespace CleanRealtime.Application.Execution;

/// <summary>
/// Publishes a job's events (Events.cs): first the <see cref="JobProjection"/> folds the event into the live
/// job, then MediatR hands it to every <see cref="INotificationHandler{TNotification}"/> (the realtime relay, a plugin
/// developer's own). So a handler always sees the job's state with its event applied — by this order of two calls, not
/// by the order handlers were registered in. Events are published to completion: the job's state is never ahead of
/// what was announced.
/// </summary>
internal sealed class JobEvents(JobProjection projection, IMediator mediator)
{
    public Task PublishAsync(INotification notification)
    {
        var applied = projection.ApplyAsync(notification);
        return applied.IsCompletedSuccessfully
            ? mediator.Publish(notification, CancellationToken.None)
            : PublishAfterAsync(applied, notification);
    }

    private async Task PublishAfterAsync(Task applied, INotification notification)
    {
        await applied.ConfigureAwait(false);
        await mediator.Publish(notification, CancellationToken.None).ConfigureAwait(false);
    }
}
