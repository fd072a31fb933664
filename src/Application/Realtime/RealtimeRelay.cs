using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using MediatR;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// Turns the runner's events into the job's realtime messages, each sequenced, logged and fanned out by
/// <see cref="JobStreams"/>, whether anyone listens now or resumes later. Publishing never waits for a client, and a
/// failure here is logged and never reaches the job.
/// </summary>
internal sealed partial class RealtimeRelay(RealtimeMessages messages, JobStreams streams, ILogger<RealtimeRelay> logger) :
    INotificationHandler<ProgressChanged>,
    INotificationHandler<PluginStarted>,
    INotificationHandler<FrameAnalyzed>,
    INotificationHandler<PartialResultReported>,
    INotificationHandler<PluginWarned>,
    INotificationHandler<PluginFailed>,
    INotificationHandler<PluginCompleted>,
    INotificationHandler<DeviceFellBack>,
    INotificationHandler<JobErrored>,
    INotificationHandler<JobFinished>
{
    public Task Handle(ProgressChanged n, CancellationToken cancellationToken) =>
        Relay(new ProgressPayload(n.JobId, n.Progress, n.Stage, n.Plugin));

    public Task Handle(PluginStarted n, CancellationToken cancellationToken) =>
        Relay(new PluginStatusPayload(n.Plugin, PluginRunStatus.Started, 0, n.JobId, 0, 0));

    public Task Handle(FrameAnalyzed n, CancellationToken cancellationToken) =>
        Relay(new FramePayload(n.JobId, n.FrameId, n.Plugin, n.Data, n.TimingMs, n.DeviceUsed.ToWire()));

    public Task Handle(PartialResultReported n, CancellationToken cancellationToken) =>
        Relay(new PartialResultPayload(n.Plugin, n.Result, true, n.JobId));

    public Task Handle(PluginWarned n, CancellationToken cancellationToken) =>
        Relay(new WarningPayload(n.Plugin, n.Message, n.Severity, n.FrameId, n.JobId));

    public async Task Handle(PluginFailed n, CancellationToken cancellationToken)
    {
        await Relay(new ErrorPayload(
            $"plugin {n.Plugin} failed: {n.Message}", n.Plugin, n.JobId, n.FrameId, new ErrorDetails(n.ErrorCode, n.Message))).ConfigureAwait(false);
        await Relay(new PluginStatusPayload(n.Plugin, PluginRunStatus.Failed, n.TimingMs, n.JobId, n.FramesProcessed, n.WarningsCount))
            .ConfigureAwait(false);
    }

    public Task Handle(PluginCompleted n, CancellationToken cancellationToken) =>
        Relay(new PluginStatusPayload(n.Plugin, PluginRunStatus.Completed, n.TimingMs, n.JobId, n.FramesProcessed, n.WarningsCount));

    public Task Handle(DeviceFellBack n, CancellationToken cancellationToken) =>
        Relay(new ErrorPayload(n.Message, JobId: n.JobId, Details: new ErrorDetails(ErrorCodes.DeviceUnavailable, n.Message, Fallback: true)));

    public Task Handle(JobErrored n, CancellationToken cancellationToken) =>
        Relay(new ErrorPayload(n.Message, JobId: n.JobId, Details: new ErrorDetails(n.ErrorCode, n.Message)));

    public Task Handle(JobFinished n, CancellationToken cancellationToken) =>
        Relay(new ProgressPayload(n.JobId, 100, n.Status.ToWire()), endsJob: true);

    private async Task Relay(RealtimePayload payload, bool endsJob = false)
    {
        try
        {
            if (messages.TryCreate(payload, out var message))
            {
                await streams.PublishAsync(message, endsJob).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogRelayFailed(ex, payload.Type.ToWire(), payload.RoutingJobId);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not relay a {Type} message of job {JobId}; the job goes on")]
    private partial void LogRelayFailed(Exception exception, string type, Guid? jobId);
}
