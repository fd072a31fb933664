using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Execution.Pipeline;

/// <summary>Makes each job's <see cref="FramePipeline"/> under the configured budget, and opens a plugin's lanes.</summary>
internal sealed class FramePipelines(IOptions<JobsOptions> options, TimeProvider time, ILogger<FramePipeline> logger)
{
    public JobsOptions Budget => options.Value;

    /// <summary>A source that cancels itself once the job runs longer than <see cref="JobsOptions.MaxDuration"/>.</summary>
    public CancellationTokenSource StartDeadline() => new(options.Value.MaxDuration, time);

    /// <summary>One session per lane: one for a sequential plugin, one per analysis thread for a parallel one.</summary>
    public void OpenLanes(PluginRun run, IFramePlugin plugin, PluginSessionOptions sessionOptions)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(plugin);
        var lanes = plugin.Concurrency == PluginConcurrency.Parallel ? options.Value.EffectivePipelineParallelism : 1;
        for (var lane = 0; lane < lanes; lane++)
        {
            run.Sessions.Add(new LaneSession(plugin.OpenSession(sessionOptions)));
        }
    }

    public FramePipeline Start(Guid jobId, IReadOnlyList<PluginRun> runs, PipelineStops stops) =>
        new(jobId, runs, options.Value, stops, time, logger);
}
