using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Execution.Pipeline;

/// <summary>What stops a job's frames: the job cancelled, past its deadline, and the stop of the whole pipeline.</summary>
/// <param name="Cancelled">The job was cancelled: the next frame read is a <see cref="FrameStop.Cancelled"/>.</param>
/// <param name="PastDeadline">The job ran past <see cref="JobsOptions.MaxDuration"/>: the next frame read is over budget.</param>
/// <param name="Stopping">Cancelled when the job is cancelled, past its deadline, the server stops, or the publisher has finished.</param>
internal readonly record struct PipelineStops(CancellationToken Cancelled, CancellationToken PastDeadline, CancellationToken Stopping);

/// <summary>
/// The frame pipeline of one job. With a parallelism of 1, or when the first frames show that threads would not pay (see
/// <see cref="JobsOptions.PipelineThreadingThreshold"/>), each frame is read and analysed by every plugin right in
/// <see cref="AnalyzeAsync"/>, one step at a time. Otherwise a decoder reads frames ahead into a bounded window and hands
/// each to every plugin's lanes; each lane analyses on the job's <see cref="AnalysisThreads"/> (a sequential plugin: one
/// lane, frames in order; a parallel one: a lane per thread, each with its own session). Either way the frames come out
/// in order, each with every plugin's <see cref="Outcome"/>; nothing is published here (no MediatR): the caller publishes
/// a frame once it is <see cref="FrameWork.Done"/>, then hands it back with <see cref="Release"/>.
/// </summary>
internal sealed partial class FramePipeline(
    Guid jobId, IReadOnlyList<PluginRun> runs, JobsOptions budget, PipelineStops stops, TimeProvider time, ILogger logger) : IAsyncDisposable
{
    private readonly double _timeoutMs = budget.PluginTimeout.TotalMilliseconds;

    /// <summary>The decoder, the lanes and their threads, once they were started (never, with one step at a time).</summary>
    private Lanes? _lanes;

    /// <summary>Why the source stopped yielding frames early, raised after the frames read before it are published.</summary>
    private ExceptionDispatchInfo? _decodeFailure;

    /// <summary>
    /// What a plugin call checks before it starts: <see cref="PipelineStops.Stopping"/> once the lanes run; none while frames
    /// are analysed one step at a time, where a stop is seen before the next frame is read.
    /// </summary>
    private CancellationToken Stop => _lanes is null ? CancellationToken.None : stops.Stopping;

    /// <summary>
    /// The frames in order, each analysed or on its way (see <see cref="FrameWork.Done"/>). The first ones are analysed
    /// here, one step at a time, and timed; all of them with a parallelism of 1, or when threads would not save
    /// <see cref="JobsOptions.PipelineThreadingThreshold"/> a frame. Else the rest come from the decoder and the lanes.
    /// </summary>
    public async IAsyncEnumerable<FrameWork> AnalyzeAsync(IAsyncEnumerator<VideoFrame> reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
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
            var work = new FrameWork(runs.Count);
            if (!TakeOrStop(work, reader.Current, decoded))
            {
                AnalyzeInline(context, work);
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
                        jobId, inline ? "one thread" : $"{parallelism} analysis threads", timed, Median(decodeTicks[..timed]), Median(analysisTicks[..timed]));
                    if (pays)
                    {
                        break;
                    }
                }
            }
        }

        var lanes = StartLanes(reader, decoded);
        await foreach (var work in lanes.Frames.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            yield return work;
        }
    }

    /// <summary>The caller is done with a frame: it is disposed, and (once frames come from the decoder) its place in the window is free.</summary>
    public void Release(FrameWork work)
    {
        ArgumentNullException.ThrowIfNull(work);
        work.DisposeFrame();
        _lanes?.Window.Leave();
    }

    /// <summary>After the last frame: raises why the source stopped early, if it failed.</summary>
    public void ThrowIfDecodeFailed() => _decodeFailure?.Throw();

    /// <summary>Once <see cref="PipelineStops.Stopping"/> is cancelled: waits for the decoder and every lane, then disposes what they left.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_lanes is { } lanes)
        {
            await lanes.StopAsync().ConfigureAwait(false);
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
    private void AnalyzeInline(PluginFrameContext context, FrameWork work)
    {
        foreach (var run in runs)
        {
            if (!run.Active)
            {
                run.DisposeSessions();
            }
            else if (run.AnalysesFrame(work.Frame.Index))
            {
                AnalyzeOnLane(run, run.Sessions[0].Session, context, work);
            }

            work.Skip(run.Slot);
        }
    }

    /// <summary>From the frame after <paramref name="decoded"/> on: a lane per session of every plugin still running, and the decoder.</summary>
    private Lanes StartLanes(IAsyncEnumerator<VideoFrame> reader, int decoded)
    {
        var lanes = new Lanes(budget.EffectivePipelineParallelism, budget.PipelineBufferFrames);
        _lanes = lanes;
        foreach (var run in runs.Where(r => r.Active))
        {
            run.Inbox = Channel.CreateUnbounded<FrameWork>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = run.Sessions.Count == 1 });
            foreach (var session in run.Sessions)
            {
                lanes.Tasks.Add(Task.Factory.StartNew(
                    () => RunLaneAsync(run, session), CancellationToken.None, TaskCreationOptions.DenyChildAttach, lanes.Threads).Unwrap());
            }
        }

        lanes.Decoding = DecodeAsync(reader, lanes, decoded);
        return lanes;
    }

    /// <summary>
    /// Reads frames into the window, checks each against cancellation and the budget (a stop is queued in the frame's
    /// place), and hands it to the publisher and to every plugin still running at that frame. Never throws: a failure
    /// of the source is kept for the publisher to raise once the frames before it are published. The publisher is handed
    /// each frame's <see cref="FrameWork"/> before the frame is read, so that it finds the next one waiting when it is done
    /// with the last and is woken once per frame (when that frame is done), not also when it is read.
    /// </summary>
    private async Task DecodeAsync(IAsyncEnumerator<VideoFrame> reader, Lanes lanes, int decoded)
    {
        FrameWork? next = null;
        try
        {
            while (true)
            {
                await lanes.Window.EnterAsync(stops.Stopping).ConfigureAwait(false);

                // The publisher gets the frame's place first, so that frames reach it in the order they are read.
                next = new FrameWork(runs.Count);
                await lanes.Frames.Writer.WriteAsync(next, CancellationToken.None).ConfigureAwait(false);
                if (!await reader.MoveNextAsync().ConfigureAwait(false))
                {
                    return;
                }

                var work = next;
                next = null;
                if (TakeOrStop(work, reader.Current, decoded))
                {
                    return;
                }

                decoded++;
                foreach (var run in runs)
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
            _decodeFailure = ExceptionDispatchInfo.Capture(ex);
        }
        finally
        {
            // A place handed to the publisher for a frame that never came: the frames stop there.
            next?.StopHere(FrameStop.EndOfSource, null);
            lanes.Frames.Writer.TryComplete();
            foreach (var run in runs)
            {
                run.Inbox?.Writer.TryComplete();
            }
        }
    }

    /// <summary>
    /// One session of one plugin, run on the job's analysis threads: takes every frame waiting for it in one go, in order,
    /// and analyses each there. Its awaits resume on those threads too, so a frame costs no hop to the thread pool.
    /// </summary>
    private async Task RunLaneAsync(PluginRun run, LaneSession session)
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
                    AnalyzeOnLane(run, session.Session, context, work);
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
    private bool TakeOrStop(FrameWork work, VideoFrame frame, int decoded)
    {
        work.Take(frame);
        if (stops.Cancelled.IsCancellationRequested)
        {
            work.StopHere(FrameStop.Cancelled, null);
        }
        else if (FrameBudget.OverBudget(frame, decoded, budget, stops.PastDeadline.IsCancellationRequested) is { } reason)
        {
            work.StopHere(FrameStop.OverBudget, reason);
        }

        return work.Stop != FrameStop.None;
    }

    /// <summary>Runs on an analysis thread: the plugin's call, its timing, and its result as JSON; nothing is published here.</summary>
    private void AnalyzeOnLane(PluginRun run, IPluginSession session, PluginFrameContext context, FrameWork work)
    {
        if (Stop.IsCancellationRequested)
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
        if (failure is not null || timingMs > _timeoutMs)
        {
            // No later frame of this plugin is analysed; earlier ones still are (a parallel plugin's other lanes).
            run.StopAfter(work.Frame.Index);
        }
    }

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

    /// <summary>Monotonic: the clock's timestamps, never its wall time.</summary>
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} analyses on {Pipeline}: over its first {Frames} frames, a frame took {DecodeMs:F3} ms to read and {AnalysisMs:F3} ms to analyse (medians)")]
    private partial void LogPipelineChosen(Guid jobId, string pipeline, int frames, double decodeMs, double analysisMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Timing plugin {Plugin} failed; its frame is reported with a zero timing")]
    private partial void LogTimingFailed(Exception exception, string plugin);
}
