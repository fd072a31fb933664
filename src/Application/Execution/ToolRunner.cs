using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution.Pipeline;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Execution;

/// <summary>
/// Runs one job: opens its source once, on the device chosen when it was queued, starts every requested plugin, runs the
/// frames through the <see cref="FramePipeline"/> (frame-major), has the <see cref="OutcomeReporter"/> publish each frame's
/// outcomes in order, and ends the job. A crashing plugin stops only itself; the job fails when no plugin is left or the
/// source cannot be read.
/// </summary>
internal sealed partial class ToolRunner(
    IJobRepository repository,
    LiveJobs liveJobs,
    PluginCatalog catalog,
    IFrameSourceFactory sources,
    FramePipelines pipelines,
    OutcomeReporter reporter,
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
                await reporter.EndAsync(jobId, JobStatus.Cancelled, null).ConfigureAwait(false);
                return;
            }

            await RunStartedAsync(job, live, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            LogInterrupted(jobId);
            await reporter.EndAsync(jobId, JobStatus.Failed, "the server shut down while the job was running").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Anything else ends the job as failed, a cancellation that is not ours included: a job is never left running.
            LogJobCrashed(ex, jobId);
            await reporter.EndAsync(jobId, JobStatus.Failed, $"internal error: {ex.Message}").ConfigureAwait(false);
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
            await reporter.StartedAsync(job, null).ConfigureAwait(false);
            await reporter.PublishAsync(new JobErrored(job.Id, ErrorCodes.SourceUnreadable, ex.Message)).ConfigureAwait(false);
            await reporter.EndAsync(job.Id, JobStatus.Failed, $"{ErrorCodes.SourceUnreadable}: {ex.Message}").ConfigureAwait(false);
            return;
        }

        using (source)
        {
            await reporter.StartedAsync(job, source.FrameCount).ConfigureAwait(false);
            LogStarted(job.Id, job.Source, job.DeviceUsed.ToWire(), string.Join(',', job.Plugins));
            await reporter.PublishAsync(new ProgressChanged(job.Id, 0, ProgressStages.Started)).ConfigureAwait(false);
            if (job.Fallback)
            {
                await reporter.PublishAsync(new DeviceFellBack(job.Id, job.DeviceRequested, job.DeviceUsed)).ConfigureAwait(false);
            }

            var runs = await StartPluginsAsync(job, source).ConfigureAwait(false);
            try
            {
                var (status, error) = await AnalyzeFramesAsync(job, source, runs, live, stoppingToken).ConfigureAwait(false);
                foreach (var run in runs.Where(r => r.Active))
                {
                    await reporter.PluginCompletedAsync(job.Id, run).ConfigureAwait(false);
                }

                await reporter.EndAsync(job.Id, status, error).ConfigureAwait(false);
            }
            finally
            {
                // Every lane has ended by now; sessions a lane did not dispose early (its plugin failed) are disposed here.
                foreach (var run in runs)
                {
                    run.DisposeSessions();
                }
            }
        }
    }

    private async Task<List<PluginRun>> StartPluginsAsync(Job job, IFrameSource source)
    {
        var runs = new List<PluginRun>(job.Plugins.Count);
        foreach (var name in job.Plugins)
        {
            var run = new PluginRun(name, runs.Count);
            runs.Add(run);
            await reporter.PublishAsync(new PluginStarted(job.Id, name)).ConfigureAwait(false);
            try
            {
                var plugin = catalog.Get(name);
                InspectorService.Inspect(plugin);
                pipelines.OpenLanes(run, plugin, new PluginSessionOptions { JobId = job.Id, Device = job.DeviceUsed.ToWire(), Fps = source.Fps, FrameCount = source.FrameCount });
                run.Active = true;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                run.DisposeSessions();
                await reporter.PluginFailedAsync(job.Id, run, ErrorCodes.PluginCrash, $"could not start: {ex.Message}", null, ex).ConfigureAwait(false);
            }
        }

        return runs;
    }

    /// <summary>
    /// The publisher: takes the pipeline's frames in order and, once every plugin is done with a frame, has its outcomes
    /// published in the job's plugin order, from here only, then disposes the frame. Decides how the job ends.
    /// </summary>
    private async Task<(JobStatus Status, string? Error)> AnalyzeFramesAsync(
        Job job, IFrameSource source, List<PluginRun> runs, LiveJob live, CancellationToken stoppingToken)
    {
        var budget = pipelines.Budget;
        if (source.FrameCount > budget.MaxFrames)
        {
            return await reporter.OverBudgetAsync(job.Id, $"the source has {source.FrameCount} frames; Jobs:MaxFrames allows {budget.MaxFrames}")
                .ConfigureAwait(false);
        }

        using var deadline = pipelines.StartDeadline();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, live.Cancellation, deadline.Token);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(linked.Token);
        var pipeline = pipelines.Start(job.Id, runs, new PipelineStops(live.Cancellation, deadline.Token, stop.Token));
        var reader = source.ReadFramesAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        FrameWork? current = null;
        try
        {
            var lastProgress = 0;
            var processed = 0;
            await foreach (var work in pipeline.AnalyzeAsync(reader).ConfigureAwait(false))
            {
                current = work;

                // Every frame is done here once its plugins are through with it, a stop or the end of the source at once.
                await work.Done.ConfigureAwait(false);
                if (work.Stop is FrameStop.EndOfSource)
                {
                    break;
                }

                if (work.Stop is FrameStop.Cancelled)
                {
                    return (JobStatus.Cancelled, null);
                }

                if (work.Stop is FrameStop.OverBudget)
                {
                    return await reporter.OverBudgetAsync(job.Id, work.StopReason!).ConfigureAwait(false);
                }

                if (!runs.Any(r => r.Active))
                {
                    return (JobStatus.Failed, NoPluginLeft(runs));
                }

                if (work.Interrupted)
                {
                    // A plugin saw the job cancelled, past its deadline or the server stopping before it could start on
                    // this frame: the frame is not published, and the reason is told apart below like a stopped read.
                    linked.Token.ThrowIfCancellationRequested();
                }

                foreach (var run in runs)
                {
                    if (run.Active)
                    {
                        await reporter.FrameAsync(job, work, run).ConfigureAwait(false);
                    }
                }

                current = null;
                pipeline.Release(work);
                processed++;
                var progress = source.FrameCount is > 0 and var total ? Math.Min(99, processed * 100 / total) : lastProgress;
                if (progress > lastProgress)
                {
                    lastProgress = progress;
                    await reporter.PublishAsync(new ProgressChanged(job.Id, progress, ProgressStages.Analyzing)).ConfigureAwait(false);
                }
            }

            pipeline.ThrowIfDecodeFailed();
            if (!runs.Any(r => r.Active))
            {
                return (JobStatus.Failed, NoPluginLeft(runs));
            }

            return processed == 0
                ? (JobStatus.Failed, $"{ErrorCodes.SourceUnreadable}: the source yielded no frames")
                : (JobStatus.Completed, null);
        }
        catch (OperationCanceledException) when (live.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return (JobStatus.Cancelled, null);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return await reporter.OverBudgetAsync(job.Id, FrameBudget.OverDuration(budget)).ConfigureAwait(false);
        }
        catch (SourceUnreadableException ex)
        {
            await reporter.PublishAsync(new JobErrored(job.Id, ErrorCodes.SourceUnreadable, ex.Message)).ConfigureAwait(false);
            return (JobStatus.Failed, $"{ErrorCodes.SourceUnreadable}: {ex.Message}");
        }
        finally
        {
            // Stop the decoder and let every lane skip what is left; once they are all done, no plugin holds a frame,
            // and every frame not yet disposed is disposed here, once.
            await stop.CancelAsync().ConfigureAwait(false);
            await pipeline.DisposeAsync().ConfigureAwait(false);
            current?.DisposeFrame();
            await reader.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static string NoPluginLeft(IEnumerable<PluginRun> runs) =>
        $"no plugin could run ({string.Join(", ", runs.Select(r => r.Name))} all failed)";

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started: source {Source} on {Device} with {Plugins}")]
    private partial void LogStarted(Guid jobId, string source, string device, string plugins);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} not run: it is {Status}")]
    private partial void LogSkipped(Guid jobId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} interrupted by shutdown")]
    private partial void LogInterrupted(Guid jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} crashed")]
    private partial void LogJobCrashed(Exception exception, Guid jobId);
}
