using CleanRealtime.Application.Execution.Pipeline;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using MediatR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Execution;

/// <summary>
/// What one job tells the world, through <see cref="JobEvents"/>: a frame's outcomes become notifications (the frame,
/// its warnings, a partial result, a plugin's failure), each plugin's timings and warnings are tallied by the job's
/// <see cref="InspectorService"/> for its final status, and the job's end goes the one way a job ends (<see cref="JobEnding"/>).
/// </summary>
internal sealed partial class OutcomeReporter(
    JobEvents events, JobEnding ending, InspectorService inspector, TimeProvider time, IOptions<JobsOptions> options, ILogger<OutcomeReporter> logger)
{
    public Task PublishAsync(INotification notification) => events.PublishAsync(notification);

    public Task StartedAsync(Job job, int? totalFrames)
    {
        ArgumentNullException.ThrowIfNull(job);
        return events.PublishAsync(new JobStarted(job.Id, job.DeviceUsed, totalFrames, time.GetUtcNow()));
    }

    /// <summary>What one plugin made of one frame, published in place: the frame, its warnings, a partial result, a failure.</summary>
    public async Task FrameAsync(Job job, FrameWork work, PluginRun run)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(run);
        var frame = work.Frame;
        var outcome = work.Outcomes[run.Slot]
            ?? throw new InvalidOperationException($"Plugin {run.Name} has no outcome for {frame.FrameId} although it is still running.");
        inspector.RecordTiming(run.Name, outcome.TimingMs);
        if (outcome.Failure is { } failure)
        {
            // What the plugin warned about before it failed still counts, in the order raised.
            await WarningsAsync(job.Id, frame.FrameId, run, outcome.Warnings).ConfigureAwait(false);
            await PluginFailedAsync(job.Id, run, ErrorCodes.PluginCrash, failure.Message, frame.FrameId, failure).ConfigureAwait(false);
            return;
        }

        run.FramesProcessed++;
        await events.PublishAsync(new FrameAnalyzed(
            job.Id, frame.FrameId, frame.Index, frame.TimestampMs, run.Name, outcome.Data, outcome.TimingMs, job.DeviceUsed)).ConfigureAwait(false);
        await WarningsAsync(job.Id, frame.FrameId, run, outcome.Warnings).ConfigureAwait(false);
        if (outcome.Partial is { } partialResult)
        {
            await events.PublishAsync(new PartialResultReported(job.Id, run.Name, partialResult)).ConfigureAwait(false);
        }

        var limit = options.Value.PluginTimeout;
        if (outcome.TimingMs > limit.TotalMilliseconds)
        {
            await PluginFailedAsync(
                job.Id, run, ErrorCodes.PluginTimeout, $"took {outcome.TimingMs:F0} ms on one frame (limit {limit.TotalMilliseconds:F0} ms)", frame.FrameId, null)
                .ConfigureAwait(false);
        }
    }

    /// <summary>The plugin stops for this job; the others go on.</summary>
    public async Task PluginFailedAsync(Guid jobId, PluginRun run, string errorCode, string message, string? frameId, Exception? exception)
    {
        ArgumentNullException.ThrowIfNull(run);

        // Its sessions are disposed by their lanes (or were never opened): another lane may still be inside one now.
        LogPluginFailed(exception, jobId, run.Name, errorCode, message);
        run.Active = false;
        run.StopAfter(0);
        await events.PublishAsync(new PluginFailed(
            jobId, run.Name, errorCode, message, frameId, inspector.TotalMs(run.Name), run.FramesProcessed, inspector.WarningCount(run.Name)))
            .ConfigureAwait(false);
    }

    public Task PluginCompletedAsync(Guid jobId, PluginRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return events.PublishAsync(new PluginCompleted(jobId, run.Name, inspector.TotalMs(run.Name), run.FramesProcessed, inspector.WarningCount(run.Name)));
    }

    /// <summary>The job stops over its budget (<c>BUDGET_EXCEEDED</c>): said on its stream; returns how it ends.</summary>
    public async Task<(JobStatus Status, string? Error)> OverBudgetAsync(Guid jobId, string reason)
    {
        LogOverBudget(jobId, reason);
        await events.PublishAsync(new JobErrored(jobId, ErrorCodes.BudgetExceeded, reason)).ConfigureAwait(false);
        return (JobStatus.Failed, $"{ErrorCodes.BudgetExceeded}: {reason}");
    }

    /// <summary>The job's last word: it ends the one way a job ends.</summary>
    public async Task EndAsync(Guid jobId, JobStatus status, string? error)
    {
        await ending.EndRunAsync(jobId, status, error).ConfigureAwait(false);
        LogFinished(jobId, status.ToWire(), error);
    }

    private async Task WarningsAsync(Guid jobId, string frameId, PluginRun run, PluginWarning[] warnings)
    {
        foreach (var warning in warnings)
        {
            inspector.RecordWarning(run.Name);
            await events.PublishAsync(new PluginWarned(jobId, run.Name, warning.Message, warning.Severity.ToDomain(), frameId)).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} finished {Status} {Error}")]
    private partial void LogFinished(Guid jobId, string status, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} stopped over its budget: {Reason}")]
    private partial void LogOverBudget(Guid jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: plugin {Plugin} failed with {ErrorCode}: {Message}")]
    private partial void LogPluginFailed(Exception? exception, Guid jobId, string plugin, string errorCode, string message);
}
