using System.Diagnostics;
using System.Globalization;
using CleanRealtime.Application.Media;
using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Bench.Serve;

/// <summary>What a bare loop of one plugin over the synthetic source measured.</summary>
internal sealed record BarePipelineResult(int Frames, double Seconds, double Fps, double PluginMsPerFrame);

/// <summary>
/// The pipeline baseline: the same synthetic 640×480 source and the plugin's own <see cref="IPluginSession.Analyze"/>
/// in a plain loop: no runner, no events, no JSON, no relay, no projection. It runs inside the real server's process
/// (bench endpoint <c>POST /bench/pipeline</c>) on the very plugin and source singletons its jobs use, so that process,
/// GC mode and native-library state are the same on both sides of the comparison.
/// </summary>
internal static class BarePipeline
{
    public static string Source(int frames, int width = 640, int height = 480) =>
        string.Create(CultureInfo.InvariantCulture, $"synthetic:pitch?frames={frames}&width={width}&height={height}");

    /// <summary>
    /// Times like a job: from the source being open to the last frame analysed (the session is opened inside).
    /// <paramref name="decodeAhead"/> &gt; 0: the frames are decoded on another thread into a buffer of that many, while
    /// this loop analyses (what a job does); 0: decoding and analysis alternate on one thread.
    /// </summary>
    public static async Task<BarePipelineResult> RunAsync(
        IFramePlugin plugin, IFrameSourceFactory sources, int frames, int width, int height, int decodeAhead, CancellationToken cancellationToken)
    {
        using var source = sources.Open(Source(frames, width, height));
        var started = Stopwatch.GetTimestamp();
        long analyzing = 0;
        var analyzed = 0;
        using (var session = plugin.OpenSession(new PluginSessionOptions { Fps = source.Fps, FrameCount = source.FrameCount }))
        {
            await foreach (var frame in decodeAhead > 0 ? DecodeAhead(source, decodeAhead, cancellationToken) : source.ReadFramesAsync(cancellationToken))
            {
                using (frame)
                {
                    var before = Stopwatch.GetTimestamp();
                    GC.KeepAlive(session.Analyze(frame, new PluginFrameContext()));
                    analyzing += Stopwatch.GetTimestamp() - before;
                    analyzed++;
                }
            }
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new BarePipelineResult(analyzed, seconds, analyzed / seconds, analyzing * 1000.0 / Stopwatch.Frequency / Math.Max(1, analyzed));
    }

    private static IAsyncEnumerable<VideoFrame> DecodeAhead(IFrameSource source, int window, CancellationToken cancellationToken)
    {
        var buffer = System.Threading.Channels.Channel.CreateBounded<VideoFrame>(window);
        _ = Task.Factory.StartNew(
            async () =>
            {
                try
                {
                    await foreach (var frame in source.ReadFramesAsync(cancellationToken))
                    {
                        await buffer.Writer.WriteAsync(frame, cancellationToken);
                    }

                    buffer.Writer.Complete();
                }
                catch (Exception ex)
                {
                    buffer.Writer.Complete(ex);
                }
            },
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        return buffer.Reader.ReadAllAsync(cancellationToken);
    }
}
