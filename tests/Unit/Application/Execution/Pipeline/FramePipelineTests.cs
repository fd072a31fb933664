using System.Collections.Concurrent;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Execution.Pipeline;
using CleanRealtime.Plugins.Sdk;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CleanRealtime.UnitTests.Application.Execution.Pipeline;

/// <summary>The frame pipeline alone: plain plugins, plain frames, no job, no events.</summary>
public sealed class FramePipelineTests
{
    [Fact]
    public async Task Pipeline_SequentialPlugin_SeesEveryFrameInOrderOneAtATime_WhileParallelOnesRunAlongside()
    {
        var seen = new ConcurrentQueue<int>();
        var inside = 0;
        var overlapped = 0;
        var stateful = new TestPlugin("stateful", (frame, _) =>
        {
            if (Interlocked.Increment(ref inside) > 1)
            {
                Interlocked.Increment(ref overlapped);
            }

            seen.Enqueue(frame.Index);
            Thread.Sleep(frame.Index % 3);
            Interlocked.Decrement(ref inside);
            return new EchoResult(frame.Index, frame.Image.Width);
        });
        var stateless = new TestPlugin("stateless", (frame, _) =>
        {
            Thread.Sleep((frame.Index * 7) % 4);
            return new EchoResult(frame.Index, frame.Image.Width);
        }) { Concurrency = PluginConcurrency.Parallel };

        var frames = await RunAsync([stateless, stateful], 30, new JobsOptions { PipelineParallelism = 4, PipelineThreadingThreshold = TimeSpan.Zero });

        Assert.Equal(Enumerable.Range(1, 30), frames.Select(f => f.Index));
        Assert.All(frames, f => Assert.Equal([f.Index, f.Index], f.Outcomes.Select(FrameIndexOf)));
        Assert.Equal(Enumerable.Range(1, 30), seen);
        Assert.Equal(0, Volatile.Read(ref overlapped));
        Assert.Equal(1, stateful.SessionsOpened);
        Assert.Equal(1, stateful.SessionsDisposed);
        Assert.Equal(4, stateless.SessionsOpened);
        Assert.Equal(4, stateless.SessionsDisposed);
        Assert.Equal(0, stateless.SessionOverlaps);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(10, true)]
    public async Task Pipeline_TimesTheFirstFrames_AndUsesTheAnalysisThreadsOnlyWhenTheySaveTime(int sleepMs, bool threadsExpected)
    {
        var onAnalysisThread = new ConcurrentDictionary<int, bool>();
        var plugin = new TestPlugin("timed", (frame, _) =>
        {
            onAnalysisThread[frame.Index] = Thread.CurrentThread.Name?.StartsWith("job analysis", StringComparison.Ordinal) == true;
            Thread.Sleep(sleepMs);
            return new EchoResult(frame.Index, frame.Image.Width);
        }) { Concurrency = PluginConcurrency.Parallel };

        // 10 ms of analysis a frame on 2 threads saves ~5 ms a frame, above a 2 ms threshold; an empty call saves nothing
        // (the threshold is well above the default, 0.25 ms, so that a loaded machine's pauses cannot tip the empty case).
        var frames = await RunAsync([plugin], 20, new JobsOptions { PipelineParallelism = 2, PipelineThreadingThreshold = TimeSpan.FromMilliseconds(2) });

        Assert.Equal(Enumerable.Range(1, 20), frames.Select(f => f.Index));

        // Threads are taken on as soon as the first frames say they pay; one thread is kept only after every probe frame.
        var probed = threadsExpected ? JobsOptions.PipelineFirstProbeFrames : JobsOptions.PipelineProbeFrames;
        Assert.All(Enumerable.Range(1, probed), i => Assert.False(onAnalysisThread[i], $"frame {i} was timed on an analysis thread"));
        Assert.All(Enumerable.Range(probed + 1, 20 - probed), i => Assert.Equal(threadsExpected, onAnalysisThread[i]));
        Assert.Equal(2, plugin.SessionsOpened);
        Assert.Equal(2, plugin.SessionsDisposed);
    }

    [Fact]
    public async Task Pipeline_ParallelPlugin_AnalysesSeveralFramesAtOnce_EachSessionOnOneThreadAtATime()
    {
        var inside = 0;
        var most = 0;
        var stateless = new TestPlugin("stateless", (frame, _) =>
        {
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref most, now);

            // Wait (bounded) for a second frame to be in here too: a pipeline that analyses one frame at a time never gets one.
            SpinWait.SpinUntil(() => Volatile.Read(ref inside) >= 2, TimeSpan.FromMilliseconds(500));
            InterlockedMax(ref most, Volatile.Read(ref inside));
            Interlocked.Decrement(ref inside);
            return new EchoResult(frame.Index, frame.Image.Width);
        }) { Concurrency = PluginConcurrency.Parallel };

        var frames = await RunAsync([stateless], 8, new JobsOptions { PipelineParallelism = 3, PipelineThreadingThreshold = TimeSpan.Zero });

        Assert.True(Volatile.Read(ref most) >= 2, $"at most {most} frame(s) were analysed at once");
        Assert.Equal(0, stateless.SessionOverlaps);
        Assert.Equal(3, stateless.SessionsOpened);
        Assert.Equal(Enumerable.Range(1, 8), frames.Select(f => f.Index));
    }

    [Fact]
    public async Task Pipeline_PluginThrows_ItsOutcomeCarriesTheFailure_AndItAnalysesNoLaterFrame()
    {
        var analysed = new ConcurrentQueue<int>();
        var crasher = new TestPlugin("crasher", (frame, _) =>
        {
            analysed.Enqueue(frame.Index);
            return frame.Index == 2 ? throw new InvalidOperationException("boom on 2") : new EchoResult(frame.Index, frame.Image.Width);
        });

        var frames = await RunAsync([TestPlugin.Echo("echo"), crasher], 4, new JobsOptions { PipelineParallelism = 1 });

        Assert.Equal([1, 2], analysed);
        Assert.Null(frames[0].Outcomes[1]!.Failure);
        Assert.Equal("boom on 2", frames[1].Outcomes[1]!.Failure!.Message);
        Assert.All(frames.Skip(2), f => Assert.Null(f.Outcomes[1]));
        Assert.All(frames, f => Assert.Equal(f.Index, FrameIndexOf(f.Outcomes[0])));
    }

    private static int FrameIndexOf(Outcome? outcome) => outcome!.Data.GetProperty("frame_index").GetInt32();

    /// <summary>Drives a pipeline the way the runner does: each frame once done, in order, then released; every plugin active.</summary>
    private static async Task<List<(int Index, Outcome?[] Outcomes)>> RunAsync(IReadOnlyList<TestPlugin> plugins, int count, JobsOptions budget)
    {
        var pipelines = new FramePipelines(Options.Create(budget), TimeProvider.System, NullLogger<FramePipeline>.Instance);
        var runs = plugins.Select((plugin, slot) => new PluginRun(plugin.Name, slot) { Active = true }).ToList();
        for (var i = 0; i < plugins.Count; i++)
        {
            pipelines.OpenLanes(runs[i], plugins[i], new PluginSessionOptions { FrameCount = count });
        }

        using var source = new FakeFrameSource(count);
        using var stop = new CancellationTokenSource();
        var pipeline = pipelines.Start(Guid.NewGuid(), runs, new PipelineStops(CancellationToken.None, CancellationToken.None, stop.Token));
        var reader = source.ReadFramesAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        var frames = new List<(int, Outcome?[])>();
        try
        {
            await foreach (var work in pipeline.AnalyzeAsync(reader).WithCancellation(CancellationToken.None))
            {
                await work.Done.WaitAsync(TimeSpan.FromSeconds(10));
                if (work.Stop != FrameStop.None)
                {
                    break;
                }

                frames.Add((work.Frame.Index, [.. work.Outcomes]));
                pipeline.Release(work);
            }

            pipeline.ThrowIfDecodeFailed();
        }
        finally
        {
            await stop.CancelAsync();
            await pipeline.DisposeAsync();
            await reader.DisposeAsync();
            runs.ForEach(r => r.DisposeSessions());
        }

        return frames;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
