namespace CleanRealtime.Application.Execution;

/// <summary>Configuration section <c>Jobs</c>.</summary>
public sealed class JobsOptions
{
    /// <summary>How many jobs run at once (<c>Jobs:MaxConcurrentJobs</c>).</summary>
    public int MaxConcurrentJobs { get; set; } = 2;

    /// <summary>A plugin whose single frame takes longer than this is stopped for the job with <c>PLUGIN_TIMEOUT</c>.</summary>
    public TimeSpan PluginTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// At most one background checkpoint of running jobs per this interval (<c>Jobs:CheckpointInterval</c>). State
    /// transitions (started, finished) are always saved at once; this only spaces out the progress saves.
    /// </summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(1);
}
