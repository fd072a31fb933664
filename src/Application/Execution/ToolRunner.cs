using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using MediatR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Execution;

/// <summary>
/// Runs one job: opens its source once, then for each frame runs every requested plugin (frame-major), timing each
/// call with the <see cref="InspectorService"/>, and publishes every step as a notification. A crashing plugin stops
/// only itself; the job fails when no plugin is left or the source cannot be read.
/// </summary>
public sealed partial class ToolRunner(
    IJobRepository repository,
    LiveJobs liveJobs,
    JobProjection projection,
    PluginCatalog catalog,
    IFrameSourceFactory sources,
    IMediator mediator,
    InspectorService inspector,
    TimeProvider time,
    IOptions<JobsOptions> options,
    ILogger<ToolRunner> logger)
{
    public async Task RunAsync(Guid jobId, CancellationToken stoppingToken)
    {
        var job = await repository.FindAsync(jobId, stoppingToken).ConfigureAwait(false);
        if (job is null || job.Status != JobStatus.Queued)
        {
            LogSkipped(jobId, job?.Status.ToWire() ?? "missing");
            liveJobs.End(jobId);
            return;
        }

        using var live = liveJobs.Begin(job);
        try
        {
            if (live.IsCancellationRequested)
            {
                await FinishAsync(jobId, JobStatus.Cancelled, null).ConfigureAwait(false);
                return;
            }

            await RunStartedAsync(job, live, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            LogInterrupted(jobId);
            await FinishAsync(jobId, JobStatus.Failed, "the server shut down while the job was running").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Anything else ends the job as failed, a cancellation that is not ours included: a job is never left running.
            LogJobCrashed(ex, jobId);
            await FinishAsync(jobId, JobStatus.Failed, $"internal error: {ex.Message}").ConfigureAwait(false);
        }
        finally
        {
            liveJobs.End(jobId);
        }
    }

    private async Task RunStartedAsync(Job job, LiveJob live, CancellationToken stoppingToken)
    {
        IFrameSource source;
        try
        {
            source = sources.Open(job.Source);
        }
        catch (SourceUnreadableException ex)
        {
            await PublishAsync(new JobStarted(job.Id, job.DeviceUsed, null, time.GetUtcNow())).ConfigureAwait(false);
            await PublishAsync(new JobErrored(job.Id, ErrorCodes.SourceUnreadable, ex.Message)).ConfigureAwait(false);
            await FinishAsync(job.Id, JobStatus.Failed, $"{ErrorCodes.SourceUnreadable}: {ex.Message}").ConfigureAwait(false);
            return;
        }

        using (source)
        {
            await PublishAsync(new JobStarted(job.Id, job.DeviceUsed, source.FrameCount, time.GetUtcNow())).ConfigureAwait(false);
            LogStarted(job.Id, job.Source, job.DeviceUsed.ToWire(), string.Join(',', job.Plugins));
            await PublishAsync(new ProgressChanged(job.Id, 0, ProgressStages.Started)).ConfigureAwait(false);
            if (job.Fallback)
            {
                await PublishAsync(new DeviceFellBack(job.Id, job.DeviceRequested, job.DeviceUsed)).ConfigureAwait(false);
            }

            var runs = await StartPluginsAsync(job, source).ConfigureAwait(false);
            try
            {
                var (status, error) = await AnalyzeFramesAsync(job, source, runs, live, stoppingToken).ConfigureAwait(false);
                foreach (var run in runs.Where(r => r.Session is not null))
                {
                    await PublishAsync(new PluginCompleted(
                        job.Id, run.Name, inspector.TotalMs(run.Name), run.FramesProcessed, inspector.WarningCount(run.Name))).ConfigureAwait(false);
                }

                await FinishAsync(job.Id, status, error).ConfigureAwait(false);
            }
            finally
            {
                foreach (var run in runs)
                {
                    run.Session?.Dispose();
                }
            }
        }
    }

    private async Task<List<PluginRun>> StartPluginsAsync(Job job, IFrameSource source)
    {
        var runs = new List<PluginRun>(job.Plugins.Count);
        foreach (var name in job.Plugins)
        {
            var run = new PluginRun(name);
            runs.Add(run);
            await PublishAsync(new PluginStarted(job.Id, name)).ConfigureAwait(false);
            try
            {
                var plugin = catalog.Get(name);
                inspector.Inspect(plugin);
                run.Session = plugin.OpenSession(new PluginSessionOptions(job.DeviceUsed.ToWire(), source.Fps, source.FrameCount));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                await FailPluginAsync(job.Id, run, ErrorCodes.PluginCrash, $"could not start: {ex.Message}", null, ex).ConfigureAwait(false);
            }
        }

        return runs;
    }

    private async Task<(JobStatus Status, string? Error)> AnalyzeFramesAsync(
        Job job, IFrameSource source, List<PluginRun> runs, LiveJob live, CancellationToken stoppingToken)
    {
        var budget = options.Value;
        if (source.FrameCount > budget.MaxFrames)
        {
            return await OverBudgetAsync(job.Id, $"the source has {source.FrameCount} frames; Jobs:MaxFrames allows {budget.MaxFrames}")
                .ConfigureAwait(false);
        }

        using var deadline = new CancellationTokenSource(budget.MaxDuration, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, live.Cancellation, deadline.Token);
        var context = new PluginFrameContext();
        var lastProgress = 0;
        var processed = 0;
        try
        {
            await foreach (var frame in source.ReadFramesAsync(linked.Token).ConfigureAwait(false))
            {
                using (frame)
                {
                    if (live.IsCancellationRequested)
                    {
                        return (JobStatus.Cancelled, null);
                    }

                    if (OverBudget(frame, processed, budget, deadline.IsCancellationRequested) is { } reason)
                    {
                        return await OverBudgetAsync(job.Id, reason).ConfigureAwait(false);
                    }

                    if (!runs.Any(r => r.Session is not null))
                    {
                        return (JobStatus.Failed, NoPluginLeft(runs));
                    }

                    foreach (var run in runs.Where(r => r.Session is not null))
                    {
                        await AnalyzeAsync(job, frame, run, context).ConfigureAwait(false);
                    }

                    processed++;
                    var progress = source.FrameCount is > 0 and var total ? Math.Min(99, processed * 100 / total) : lastProgress;
                    if (progress > lastProgress)
                    {
                        lastProgress = progress;
                        await PublishAsync(new ProgressChanged(job.Id, progress, ProgressStages.Analyzing)).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (live.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return (JobStatus.Cancelled, null);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return await OverBudgetAsync(job.Id, OverDuration(budget)).ConfigureAwait(false);
        }
        catch (SourceUnreadableException ex)
        {
            await PublishAsync(new JobErrored(job.Id, ErrorCodes.SourceUnreadable, ex.Message)).ConfigureAwait(false);
            return (JobStatus.Failed, $"{ErrorCodes.SourceUnreadable}: {ex.Message}");
        }

        if (!runs.Any(r => r.Session is not null))
        {
            return (JobStatus.Failed, NoPluginLeft(runs));
        }

        return processed == 0
            ? (JobStatus.Failed, $"{ErrorCodes.SourceUnreadable}: the source yielded no frames")
            : (JobStatus.Completed, null);
    }

    /// <summary>Why the next frame may not be analysed under the job's budget, or null when it may.</summary>
    private static string? OverBudget(VideoFrame frame, int processed, JobsOptions budget, bool pastDeadline)
    {
        if (pastDeadline)
        {
            return OverDuration(budget);
        }

        if (processed >= budget.MaxFrames)
        {
            return $"the source has more than {budget.MaxFrames} frames (Jobs:MaxFrames)";
        }

        var pixels = (long)frame.Image.Width * frame.Image.Height;
        return pixels > budget.MaxPixelsPerFrame
            ? $"frame {frame.Index} is {frame.Image.Width}x{frame.Image.Height} ({pixels} pixels); Jobs:MaxPixelsPerFrame allows {budget.MaxPixelsPerFrame}"
            : null;
    }

    private static string OverDuration(JobsOptions budget) => $"the job ran longer than Jobs:MaxDuration ({budget.MaxDuration:c})";

    private async Task<(JobStatus Status, string? Error)> OverBudgetAsync(Guid jobId, string reason)
    {
        LogOverBudget(jobId, reason);
        await PublishAsync(new JobErrored(jobId, ErrorCodes.BudgetExceeded, reason)).ConfigureAwait(false);
        return (JobStatus.Failed, $"{ErrorCodes.BudgetExceeded}: {reason}");
    }

    private async Task AnalyzeAsync(Job job, VideoFrame frame, PluginRun run, PluginFrameContext context)
    {
        context.Reset();
        StartTiming(run.Name);
        object? result = null;
        Exception? failure = null;
        try
        {
            result = run.Session!.Analyze(frame, context);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Plugin code takes no token: whatever it throws, a cancellation included, is its own failure and stops only it.
            failure = ex;
        }

        var timingMs = StopTiming(run.Name);
        JsonElement data = default;
        JsonElement? partial = null;
        if (failure is null)
        {
            try
            {
                data = PluginResultJson.ToElement(result!);
                partial = context.PartialResult is { } reported ? PluginResultJson.ToElement(reported) : null;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failure = ex;
            }
        }

        if (failure is not null)
        {
            // What the plugin warned about before it failed still counts, in the order raised.
            await PublishWarningsAsync(job, frame, run, context).ConfigureAwait(false);
            await FailPluginAsync(job.Id, run, ErrorCodes.PluginCrash, failure.Message, frame.FrameId, failure).ConfigureAwait(false);
            return;
        }

        run.FramesProcessed++;
        await PublishAsync(new FrameAnalyzed(
            job.Id, frame.FrameId, frame.Index, frame.TimestampMs, run.Name, data, timingMs, job.DeviceUsed)).ConfigureAwait(false);
        await PublishWarningsAsync(job, frame, run, context).ConfigureAwait(false);
        if (partial is { } partialResult)
        {
            await PublishAsync(new PartialResultReported(job.Id, run.Name, partialResult)).ConfigureAwait(false);
        }

        var limit = options.Value.PluginTimeout;
        if (timingMs > limit.TotalMilliseconds)
        {
            await FailPluginAsync(
                job.Id, run, ErrorCodes.PluginTimeout, $"took {timingMs:F0} ms on one frame (limit {limit.TotalMilliseconds:F0} ms)", frame.FrameId, null)
                .ConfigureAwait(false);
        }
    }

    private async Task PublishWarningsAsync(Job job, VideoFrame frame, PluginRun run, PluginFrameContext context)
    {
        foreach (var warning in context.Warnings)
        {
            inspector.RecordWarning(run.Name, warning.Message, warning.Severity, frame.FrameId);
            await PublishAsync(new PluginWarned(job.Id, run.Name, warning.Message, warning.Severity, frame.FrameId)).ConfigureAwait(false);
        }
    }

    private async Task FailPluginAsync(Guid jobId, PluginRun run, string errorCode, string message, string? frameId, Exception? exception)
    {
        LogPluginFailed(exception, jobId, run.Name, errorCode, message);
        run.Session?.Dispose();
        run.Session = null;
        await PublishAsync(new PluginFailed(
            jobId, run.Name, errorCode, message, frameId, inspector.TotalMs(run.Name), run.FramesProcessed, inspector.WarningCount(run.Name)))
            .ConfigureAwait(false);
    }

    private async Task FinishAsync(Guid jobId, JobStatus status, string? error)
    {
        // Folded into the live job and published as the job's last message; then stored, once that message is logged.
        await PublishAsync(new JobFinished(jobId, status, error, time.GetUtcNow())).ConfigureAwait(false);
        await projection.StoreFinalStateAsync(jobId, CancellationToken.None).ConfigureAwait(false);
        LogFinished(jobId, status.ToWire(), error);
    }

    /// <summary>Events are published to completion: the job's state is never ahead of what was announced.</summary>
    private Task PublishAsync(INotification notification) => mediator.Publish(notification, CancellationToken.None);

    /// <summary>A failing clock must not stop analysis: the frame is then reported with a zero timing.</summary>
    private void StartTiming(string plugin)
    {
        try
        {
            inspector.StartTiming(plugin);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            LogTimingFailed(ex, plugin);
        }
    }

    private double StopTiming(string plugin)
    {
        try
        {
            return inspector.StopTiming(plugin);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            LogTimingFailed(ex, plugin);
            return 0;
        }
    }

    private static string NoPluginLeft(IEnumerable<PluginRun> runs) =>
        $"no plugin could run ({string.Join(", ", runs.Select(r => r.Name))} all failed)";

    private sealed class PluginRun(string name)
    {
        public string Name { get; } = name;

        public IPluginSession? Session { get; set; }

        public int FramesProcessed { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started: source {Source} on {Device} with {Plugins}")]
    private partial void LogStarted(Guid jobId, string source, string device, string plugins);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} finished {Status} {Error}")]
    private partial void LogFinished(Guid jobId, string status, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} stopped over its budget: {Reason}")]
    private partial void LogOverBudget(Guid jobId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} not run: it is {Status}")]
    private partial void LogSkipped(Guid jobId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} interrupted by shutdown")]
    private partial void LogInterrupted(Guid jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} crashed")]
    private partial void LogJobCrashed(Exception exception, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: plugin {Plugin} failed with {ErrorCode}: {Message}")]
    private partial void LogPluginFailed(Exception? exception, Guid jobId, string plugin, string errorCode, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Timing plugin {Plugin} failed; its frame is reported with a zero timing")]
    private partial void LogTimingFailed(Exception exception, string plugin);
}
