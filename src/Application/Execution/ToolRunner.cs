using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using System.Threading.Channels;
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

            var runs = await StartPluginsAsync(job, source, options.Value.EffectivePipelineParallelism).ConfigureAwait(false);
            try
            {
                var (status, error) = await AnalyzeFramesAsync(job, source, runs, live, stoppingToken).ConfigureAwait(false);
                foreach (var run in runs.Where(r => r.Active))
                {
                    await PublishAsync(new PluginCompleted(
                        job.Id, run.Name, inspector.TotalMs(run.Name), run.FramesProcessed, inspector.WarningCount(run.Name))).ConfigureAwait(false);
                }

                await FinishAsync(job.Id, status, error).ConfigureAwait(false);
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

    private async Task<List<PluginRun>> StartPluginsAsync(Job job, IFrameSource source, int parallelism)
    {
        var runs = new List<PluginRun>(job.Plugins.Count);
        foreach (var name in job.Plugins)
        {
            var run = new PluginRun(name, runs.Count);
            runs.Add(run);
            await PublishAsync(new PluginStarted(job.Id, name)).ConfigureAwait(false);
            try
            {
                var plugin = catalog.Get(name);
                inspector.Inspect(plugin);
                var sessionOptions = new PluginSessionOptions(job.DeviceUsed.ToWire(), source.Fps, source.FrameCount);
                var lanes = plugin.Concurrency == PluginConcurrency.Parallel ? parallelism : 1;
                for (var lane = 0; lane < lanes; lane++)
                {
                    run.Sessions.Add(new LaneSession(plugin.OpenSession(sessionOptions)));
                }

                run.Active = true;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                run.DisposeSessions();
                await FailPluginAsync(job.Id, run, ErrorCodes.PluginCrash, $"could not start: {ex.Message}", null, ex).ConfigureAwait(false);
            }
        }

        return runs;
    }

    /// <summary>
    /// The frame pipeline. With a parallelism of 1, or when the first frames show that threads would not pay (see
    /// <see cref="JobsOptions.PipelineThreadingThreshold"/>), each frame is read, analysed by every plugin and published
    /// right here, one step at a time. Otherwise a decoder reads frames ahead into a bounded window and hands each to every
    /// plugin's lanes; each lane analyses on the job's <see cref="AnalysisThreads"/> (a sequential plugin: one lane, frames
    /// in order; a parallel one: a lane per thread, each with its own session). Either way this method publishes, from here
    /// only, frame by frame in the job's plugin order, once every plugin is done with the frame, and then disposes the frame.
    /// </summary>
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
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(linked.Token);
        var pipeline = new Pipeline(runs, live, budget, deadline, stop.Token);
        var reader = source.ReadFramesAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        FrameWork? current = null;
        try
        {
            var lastProgress = 0;
            var processed = 0;
            await foreach (var work in AnalyzeAsync(pipeline, reader).ConfigureAwait(false))
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
                    return await OverBudgetAsync(job.Id, work.StopReason!).ConfigureAwait(false);
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
                        await PublishOutcomeAsync(job, work, run).ConfigureAwait(false);
                    }
                }

                current = null;
                work.DisposeFrame();

                // Set only once the frames come from the decoder: this one did, and its place in the window is free.
                pipeline.Lanes?.Window.Leave();
                processed++;
                var progress = source.FrameCount is > 0 and var total ? Math.Min(99, processed * 100 / total) : lastProgress;
                if (progress > lastProgress)
                {
                    lastProgress = progress;
                    await PublishAsync(new ProgressChanged(job.Id, progress, ProgressStages.Analyzing)).ConfigureAwait(false);
                }
            }

            pipeline.DecodeFailure?.Throw();
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
            return await OverBudgetAsync(job.Id, OverDuration(budget)).ConfigureAwait(false);
        }
        catch (SourceUnreadableException ex)
        {
            await PublishAsync(new JobErrored(job.Id, ErrorCodes.SourceUnreadable, ex.Message)).ConfigureAwait(false);
            return (JobStatus.Failed, $"{ErrorCodes.SourceUnreadable}: {ex.Message}");
        }
        finally
        {
            // Stop the decoder and let every lane skip what is left; once they are all done, no plugin holds a frame,
            // and every frame not yet disposed is disposed here, once.
            await stop.CancelAsync().ConfigureAwait(false);
            if (pipeline.Lanes is { } lanes)
            {
                await lanes.StopAsync().ConfigureAwait(false);
            }

            current?.DisposeFrame();
            await reader.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The frames in order, each analysed or on its way (see <see cref="FrameWork.Done"/>). The first ones are analysed
    /// here, one step at a time, and timed; all of them with a parallelism of 1, or when threads would not save
    /// <see cref="JobsOptions.PipelineThreadingThreshold"/> a frame. Else the rest come from the decoder and the lanes.
    /// </summary>
    private async IAsyncEnumerable<FrameWork> AnalyzeAsync(Pipeline pipeline, IAsyncEnumerator<VideoFrame> reader)
    {
        var budget = pipeline.Budget;
        var parallelism = budget.EffectivePipelineParallelism;
        var probe = parallelism == 1 ? 0 : budget.PipelineThreadingThreshold > TimeSpan.Zero ? JobsOptions.PipelineProbeFrames : 0;
        var decodeTicks = new long[probe];
        var analysisTicks = new long[probe];
        var inline = parallelism == 1;
        var context = new PluginFrameContext();
        var decoded = 0;
        while (inline || decoded < probe)
        {
            var reading = Stopwatch.GetTimestamp();
            if (!await reader.MoveNextAsync().ConfigureAwait(false))
            {
                yield break;
            }

            var analysing = Stopwatch.GetTimestamp();
            var work = new FrameWork(pipeline.Runs.Count);
            if (!TakeOrStop(work, reader.Current, pipeline, decoded))
            {
                AnalyzeInline(pipeline, context, work);
                if (decoded < probe)
                {
                    decodeTicks[decoded] = analysing - reading;
                    analysisTicks[decoded] = Stopwatch.GetTimestamp() - analysing;
                }

                decoded++;
            }

            yield return work;
            if (!inline && decoded >= JobsOptions.PipelineFirstProbeFrames && decoded <= probe)
            {
                // Threads are taken on as soon as the frames timed so far say they pay; staying on one thread waits for all.
                var timed = Math.Min(decoded, probe);
                var pays = ThreadsPay(decodeTicks[..timed], analysisTicks[..timed], parallelism, budget.PipelineThreadingThreshold);
                if (pays || decoded == probe)
                {
                    inline = !pays;
                    LogPipelineChosen(
                        pipeline.Live.Id, inline ? "one thread" : $"{parallelism} analysis threads", timed, Median(decodeTicks[..timed]), Median(analysisTicks[..timed]));
                    if (pays)
                    {
                        break;
                    }
                }
            }
        }

        var lanes = StartLanes(pipeline, reader, decoded);
        await foreach (var work in lanes.Frames.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            yield return work;
        }
    }

    /// <summary>Whether decoding ahead and analysing on every thread saves at least <paramref name="threshold"/> a frame.</summary>
    private static bool ThreadsPay(long[] decodeTicks, long[] analysisTicks, int parallelism, TimeSpan threshold)
    {
        var decode = Median(decodeTicks);
        var analysis = Median(analysisTicks);
        var saved = decode + analysis - Math.Max(decode, analysis / parallelism);
        return saved >= threshold.TotalMilliseconds;
    }

    /// <summary>The median of stopwatch intervals, in milliseconds.</summary>
    private static double Median(long[] ticks)
    {
        var sorted = ticks.Order().ToArray();
        return sorted.Length == 0 ? 0 : Stopwatch.GetElapsedTime(0, sorted[sorted.Length / 2]).TotalMilliseconds;
    }

    /// <summary>Every plugin still running analyses the frame here, in the job's order.</summary>
    private void AnalyzeInline(Pipeline pipeline, PluginFrameContext context, FrameWork work)
    {
        foreach (var run in pipeline.Runs)
        {
            if (!run.Active)
            {
                run.DisposeSessions();
            }
            else if (run.AnalysesFrame(work.Frame.Index))
            {
                AnalyzeOnLane(pipeline, run, run.Sessions[0].Session, context, work);
            }

            work.Skip(run.Slot);
        }
    }

    /// <summary>From the frame after <paramref name="decoded"/> on: a lane per session of every plugin still running, and the decoder.</summary>
    private Lanes StartLanes(Pipeline pipeline, IAsyncEnumerator<VideoFrame> reader, int decoded)
    {
        var budget = pipeline.Budget;
        var lanes = new Lanes(budget.EffectivePipelineParallelism, budget.PipelineBufferFrames);
        pipeline.Lanes = lanes;
        foreach (var run in pipeline.Runs.Where(r => r.Active))
        {
            run.Inbox = Channel.CreateUnbounded<FrameWork>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = run.Sessions.Count == 1 });
            foreach (var session in run.Sessions)
            {
                lanes.Tasks.Add(Task.Factory.StartNew(
                    () => RunLaneAsync(pipeline, run, session), CancellationToken.None, TaskCreationOptions.DenyChildAttach, lanes.Threads).Unwrap());
            }
        }

        lanes.Decoding = DecodeAsync(reader, pipeline, lanes, decoded);
        return lanes;
    }

    /// <summary>
    /// Reads frames into the window, checks each against cancellation and the budget (a stop is queued in the frame's
    /// place), and hands it to the publisher and to every plugin still running at that frame. Never throws: a failure
    /// of the source is kept for the publisher to raise once the frames before it are published. The publisher is handed
    /// each frame's <see cref="FrameWork"/> before the frame is read, so that it finds the next one waiting when it is done
    /// with the last and is woken once per frame (when that frame is done), not also when it is read.
    /// </summary>
    private static async Task DecodeAsync(IAsyncEnumerator<VideoFrame> reader, Pipeline pipeline, Lanes lanes, int decoded)
    {
        FrameWork? next = null;
        try
        {
            while (true)
            {
                await lanes.Window.EnterAsync(pipeline.Stopping).ConfigureAwait(false);

                // The publisher gets the frame's place first, so that frames reach it in the order they are read.
                next = new FrameWork(pipeline.Runs.Count);
                await lanes.Frames.Writer.WriteAsync(next, CancellationToken.None).ConfigureAwait(false);
                if (!await reader.MoveNextAsync().ConfigureAwait(false))
                {
                    return;
                }

                var work = next;
                next = null;
                if (TakeOrStop(work, reader.Current, pipeline, decoded))
                {
                    return;
                }

                decoded++;
                foreach (var run in pipeline.Runs)
                {
                    if (run.Inbox is { } inbox && run.AnalysesFrame(work.Frame.Index))
                    {
                        inbox.Writer.TryWrite(work);
                    }
                    else
                    {
                        work.Skip(run.Slot);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Cancellations, a source that cannot be read further, anything: the publisher sorts them out in order.
            pipeline.DecodeFailure = ExceptionDispatchInfo.Capture(ex);
        }
        finally
        {
            // A place handed to the publisher for a frame that never came: the frames stop there.
            next?.StopHere(FrameStop.EndOfSource, null);
            lanes.Frames.Writer.TryComplete();
            foreach (var run in pipeline.Runs)
            {
                run.Inbox?.Writer.TryComplete();
            }
        }
    }

    /// <summary>
    /// One session of one plugin, run on the job's analysis threads: takes every frame waiting for it in one go, in order,
    /// and analyses each there. Its awaits resume on those threads too, so a frame costs no hop to the thread pool.
    /// </summary>
    private async Task RunLaneAsync(Pipeline pipeline, PluginRun run, LaneSession session)
    {
        var context = new PluginFrameContext();
        var inbox = run.Inbox!.Reader;
        while (true)
        {
            // ReadAsync, not WaitToReadAsync: a frame wakes one of a parallel plugin's idle lanes, not all of them.
            if (!inbox.TryRead(out var work))
            {
                try
                {
                    work = await inbox.ReadAsync(CancellationToken.None).ConfigureAwait(true);
                }
                catch (ChannelClosedException)
                {
                    return;
                }
            }

            if (!run.AnalysesFrame(work.Frame.Index))
            {
                // The plugin failed at an earlier frame: this lane's session is done with for the job.
                session.Dispose();
            }
            else
            {
                try
                {
                    AnalyzeOnLane(pipeline, run, session.Session, context, work);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Not the plugin's call (that is caught inside) but around it: still only this plugin stops, and the
                    // lane goes on taking frames so that none of them waits for it forever.
                    work.Outcomes[run.Slot] = new Outcome(default, null, [], 0, ex);
                    run.StopAfter(work.Frame.Index);
                }
            }

            work.Skip(run.Slot);
        }
    }

    /// <summary>
    /// Puts a decoded frame in its place, or a stop there instead when the job was cancelled or the frame is over budget
    /// (true: the frames stop here).
    /// </summary>
    private static bool TakeOrStop(FrameWork work, VideoFrame frame, Pipeline pipeline, int decoded)
    {
        work.Take(frame);
        if (pipeline.Live.IsCancellationRequested)
        {
            work.StopHere(FrameStop.Cancelled, null);
        }
        else if (OverBudget(frame, decoded, pipeline.Budget, pipeline.Deadline.IsCancellationRequested) is { } reason)
        {
            work.StopHere(FrameStop.OverBudget, reason);
        }

        return work.Stop != FrameStop.None;
    }

    /// <summary>Runs on an analysis thread: the plugin's call, its timing, and its result as JSON; nothing is published here.</summary>
    private void AnalyzeOnLane(Pipeline pipeline, PluginRun run, IPluginSession session, PluginFrameContext context, FrameWork work)
    {
        if (pipeline.Stop.IsCancellationRequested)
        {
            work.Interrupted = true;
            return;
        }

        context.Reset();
        var started = ReadTimestamp(run.Name);
        object? result = null;
        Exception? failure = null;
        try
        {
            result = session.Analyze(work.Frame, context);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Plugin code takes no token: whatever it throws, a cancellation included, is its own failure and stops only it.
            failure = ex;
        }

        var timingMs = ElapsedMs(run.Name, started);
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

        var warnings = context.Warnings.Count == 0 ? [] : context.Warnings.ToArray();
        work.Outcomes[run.Slot] = new Outcome(data, partial, warnings, timingMs, failure);
        if (failure is not null || timingMs > pipeline.TimeoutMs)
        {
            // No later frame of this plugin is analysed; earlier ones still are (a parallel plugin's other lanes).
            run.StopAfter(work.Frame.Index);
        }
    }

    /// <summary>What one plugin made of one frame, published in place: the frame, its warnings, a partial result, a failure.</summary>
    private async Task PublishOutcomeAsync(Job job, FrameWork work, PluginRun run)
    {
        var frame = work.Frame;
        var outcome = work.Outcomes[run.Slot]
            ?? throw new InvalidOperationException($"Plugin {run.Name} has no outcome for {frame.FrameId} although it is still running.");
        inspector.RecordTiming(run.Name, outcome.TimingMs);
        if (outcome.Failure is { } failure)
        {
            // What the plugin warned about before it failed still counts, in the order raised.
            await PublishWarningsAsync(job, frame, run, outcome.Warnings).ConfigureAwait(false);
            await FailPluginAsync(job.Id, run, ErrorCodes.PluginCrash, failure.Message, frame.FrameId, failure).ConfigureAwait(false);
            return;
        }

        run.FramesProcessed++;
        await PublishAsync(new FrameAnalyzed(
            job.Id, frame.FrameId, frame.Index, frame.TimestampMs, run.Name, outcome.Data, outcome.TimingMs, job.DeviceUsed)).ConfigureAwait(false);
        await PublishWarningsAsync(job, frame, run, outcome.Warnings).ConfigureAwait(false);
        if (outcome.Partial is { } partialResult)
        {
            await PublishAsync(new PartialResultReported(job.Id, run.Name, partialResult)).ConfigureAwait(false);
        }

        var limit = options.Value.PluginTimeout;
        if (outcome.TimingMs > limit.TotalMilliseconds)
        {
            await FailPluginAsync(
                job.Id, run, ErrorCodes.PluginTimeout, $"took {outcome.TimingMs:F0} ms on one frame (limit {limit.TotalMilliseconds:F0} ms)", frame.FrameId, null)
                .ConfigureAwait(false);
        }
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

    private async Task PublishWarningsAsync(Job job, VideoFrame frame, PluginRun run, PluginWarning[] warnings)
    {
        foreach (var warning in warnings)
        {
            inspector.RecordWarning(run.Name, warning.Message, warning.Severity, frame.FrameId);
            await PublishAsync(new PluginWarned(job.Id, run.Name, warning.Message, warning.Severity, frame.FrameId)).ConfigureAwait(false);
        }
    }

    private async Task FailPluginAsync(Guid jobId, PluginRun run, string errorCode, string message, string? frameId, Exception? exception)
    {
        // Its sessions are disposed by their lanes (or were never opened): another lane may still be inside one now.
        LogPluginFailed(exception, jobId, run.Name, errorCode, message);
        run.Active = false;
        run.StopAfter(0);
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
    private long? ReadTimestamp(string plugin)
    {
        try
        {
            return time.GetTimestamp();
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            LogTimingFailed(ex, plugin);
            return null;
        }
    }

    private double ElapsedMs(string plugin, long? started)
    {
        if (started is not { } from)
        {
            return 0;
        }

        try
        {
            return Math.Max(0, time.GetElapsedTime(from).TotalMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            LogTimingFailed(ex, plugin);
            return 0;
        }
    }

    private static string NoPluginLeft(IEnumerable<PluginRun> runs) =>
        $"no plugin could run ({string.Join(", ", runs.Select(r => r.Name))} all failed)";

    /// <summary>One requested plugin in one job.</summary>
    private sealed class PluginRun(string name, int slot)
    {
        private int _lastFrame = int.MaxValue;

        public string Name { get; } = name;

        /// <summary>Its place in the job's plugin order, and in each frame's outcomes.</summary>
        public int Slot { get; } = slot;

        /// <summary>One session per lane: one for a sequential plugin, one per analysis thread for a parallel one.</summary>
        public List<LaneSession> Sessions { get; } = [];

        /// <summary>The frames handed to its lanes; null when it never started.</summary>
        public Channel<FrameWork>? Inbox { get; set; }

        /// <summary>Publisher's view: started and not failed (as published so far).</summary>
        public bool Active { get; set; }

        public int FramesProcessed { get; set; }

        /// <summary>Analysis threads' view: false for frames after the one it failed on (or for all, once it was stopped).</summary>
        public bool AnalysesFrame(int index) => index <= Volatile.Read(ref _lastFrame);

        /// <summary>No frame after <paramref name="index"/> is analysed any more (the lowest index wins).</summary>
        public void StopAfter(int index)
        {
            var last = Volatile.Read(ref _lastFrame);
            while (index < last)
            {
                var seen = Interlocked.CompareExchange(ref _lastFrame, index, last);
                if (seen == last)
                {
                    return;
                }

                last = seen;
            }
        }

        public void DisposeSessions()
        {
            foreach (var session in Sessions)
            {
                session.Dispose();
            }

            Sessions.Clear();
        }
    }

    /// <summary>A session, disposed exactly once: by its lane as soon as its plugin failed, else at the end of the job.</summary>
    private sealed class LaneSession(IPluginSession session)
    {
        private int _disposed;

        public IPluginSession Session { get; } = session;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Session.Dispose();
            }
        }
    }

    /// <summary>
    /// Bounds the frames decoded but not yet published. A full window lets the decoder go on only once it is half empty,
    /// so that a decoder ahead of the publisher is woken once per few frames, not for every one.
    /// </summary>
    private sealed class FrameWindow(int size)
    {
        private readonly Lock _gate = new();
        private int _inFlight;
        private TaskCompletionSource? _waiter;

        public async ValueTask EnterAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                Task wait;
                lock (_gate)
                {
                    if (_inFlight < size)
                    {
                        _inFlight++;
                        return;
                    }

                    _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _waiter.Task;
                }

                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public void Leave()
        {
            TaskCompletionSource? wake = null;
            lock (_gate)
            {
                _inFlight--;
                if (_waiter is not null && _inFlight <= size / 2)
                {
                    wake = _waiter;
                    _waiter = null;
                }
            }

            wake?.TrySetResult();
        }
    }

    /// <summary>Shared by the decoder, the lanes and the publisher of one job.</summary>
    private sealed class Pipeline(List<PluginRun> runs, LiveJob live, JobsOptions budget, CancellationTokenSource deadline, CancellationToken stopping)
    {
        public List<PluginRun> Runs { get; } = runs;

        public LiveJob Live { get; } = live;

        public JobsOptions Budget { get; } = budget;

        public CancellationTokenSource Deadline { get; } = deadline;

        public double TimeoutMs { get; } = budget.PluginTimeout.TotalMilliseconds;

        /// <summary>Cancelled when the job is cancelled, past its deadline, the server stops, or the publisher has finished.</summary>
        public CancellationToken Stopping { get; } = stopping;

        /// <summary>
        /// What a plugin call checks before it starts: <see cref="Stopping"/> once the lanes run; none while frames are
        /// analysed one step at a time, where a stop is seen before the next frame is read.
        /// </summary>
        public CancellationToken Stop => Lanes is null ? CancellationToken.None : Stopping;

        /// <summary>The decoder, the lanes and their threads, once they were started (never, with one step at a time).</summary>
        public Lanes? Lanes { get; set; }

        /// <summary>Why the source stopped yielding frames early, raised after the frames read before it are published.</summary>
        public ExceptionDispatchInfo? DecodeFailure { get; set; }
    }

    /// <summary>The decoder, the lanes of every plugin and the threads they run on, from the frame where the job took them on.</summary>
    private sealed class Lanes(int parallelism, int bufferFrames)
    {
        /// <summary>Frames decoded but not yet published.</summary>
        public FrameWindow Window { get; } = new(bufferFrames);

        /// <summary>Every frame's place, in the order read, for the publisher.</summary>
        public Channel<FrameWork> Frames { get; } =
            Channel.CreateBounded<FrameWork>(new BoundedChannelOptions(bufferFrames + 1) { SingleReader = true, SingleWriter = true });

        public AnalysisThreads Threads { get; } = new(parallelism, "job analysis");

        public List<Task> Tasks { get; } = [];

        public Task Decoding { get; set; } = Task.CompletedTask;

        /// <summary>Once the job's stop is cancelled: waits for the decoder and every lane, then disposes what they left.</summary>
        public async Task StopAsync()
        {
            await Decoding.ConfigureAwait(false);
            await Task.WhenAll(Tasks).ConfigureAwait(false);
            Threads.Dispose();
            while (Frames.Reader.TryRead(out var left))
            {
                left.DisposeFrame();
            }
        }
    }

    private enum FrameStop
    {
        None,
        Cancelled,
        OverBudget,

        /// <summary>No frame came in this place: the source ended, failed or was stopped (see <see cref="Pipeline.DecodeFailure"/>).</summary>
        EndOfSource,
    }

    /// <summary>What one plugin made of one frame.</summary>
    private sealed record Outcome(JsonElement Data, JsonElement? Partial, PluginWarning[] Warnings, double TimingMs, Exception? Failure);

    /// <summary>
    /// One frame on its way through the plugins, from its place in the publisher's queue (before it is read, see
    /// <see cref="Take"/>) to done: once every plugin has analysed or skipped it, or at once when the job stops there.
    /// </summary>
    private sealed class FrameWork(int plugins)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _pending = plugins;
        private int _disposed;
        private VideoFrame? _frame;

        /// <summary>The frame; read only by a lane it was handed to, or by the publisher once <see cref="Done"/>.</summary>
        public VideoFrame Frame => _frame ?? throw new InvalidOperationException("No frame was read in this place.");

        /// <summary>Per plugin slot, written by that plugin's lane before it signals <see cref="Skip"/>.</summary>
        public Outcome?[] Outcomes { get; } = new Outcome?[plugins];

        public FrameStop Stop { get; private set; }

        public string? StopReason { get; private set; }

        /// <summary>A plugin found the job stopping before it could analyse this frame.</summary>
        public bool Interrupted { get; set; }

        public Task Done => _done.Task;

        /// <summary>The frame read for this place, before it is handed to any plugin.</summary>
        public void Take(VideoFrame frame) => _frame = frame;

        /// <summary>The job stops at this frame; it is disposed at once, never analysed, and done.</summary>
        public void StopHere(FrameStop stop, string? reason)
        {
            Stop = stop;
            StopReason = reason;
            DisposeFrame();
            _done.TrySetResult();
        }

        /// <summary>The plugin in <paramref name="slot"/> is done with this frame (analysed it, or never will).</summary>
        public void Skip(int slot)
        {
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                _done.TrySetResult();
            }
        }

        public void DisposeFrame()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _frame?.Dispose();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started: source {Source} on {Device} with {Plugins}")]
    private partial void LogStarted(Guid jobId, string source, string device, string plugins);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} finished {Status} {Error}")]
    private partial void LogFinished(Guid jobId, string status, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} stopped over its budget: {Reason}")]
    private partial void LogOverBudget(Guid jobId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} analyses on {Pipeline}: over its first {Frames} frames, a frame took {DecodeMs:F3} ms to read and {AnalysisMs:F3} ms to analyse (medians)")]
    private partial void LogPipelineChosen(Guid jobId, string pipeline, int frames, double decodeMs, double analysisMs);

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
