namespace CleanRealtime.Application.Execution;

/// <summary>Configuration section <c>Jobs</c>.</summary>
public sealed class JobsOptions
{
    /// <summary>How many jobs run at once (<c>Jobs:MaxConcurrentJobs</c>).</summary>
    public int MaxConcurrentJobs { get; set; } = 2;

    /// <summary>
    /// How many plugin calls of one job run at once (<c>Jobs:PipelineParallelism</c>); 0 (the default) means the
    /// machine's core count. Frames are decoded ahead into a buffer of <see cref="PipelineBufferFrames"/> and messages
    /// are still published in frame order. 1 runs the job strictly one step at a time (decode, each plugin, publish).
    /// </summary>
    public int PipelineParallelism { get; set; }

    /// <summary>The effective parallelism: <see cref="PipelineParallelism"/>, or the core count when it is 0 or less.</summary>
    public int EffectivePipelineParallelism => PipelineParallelism > 0 ? PipelineParallelism : Environment.ProcessorCount;

    /// <summary>
    /// Frames of one job decoded but not yet published: 1 with a parallelism of 1, else twice the parallelism, at most the
    /// parallelism + 4 (a 3840 × 2160 frame holds 24 MB).
    /// </summary>
    public int PipelineBufferFrames
    {
        get
        {
            var parallelism = EffectivePipelineParallelism;
            return parallelism == 1 ? 1 : Math.Min(2 * parallelism, parallelism + 4);
        }
    }

    /// <summary>
    /// With a parallelism above 1, a job's first frames (3 to <see cref="PipelineProbeFrames"/>) are decoded and analysed
    /// one step at a time, like with a parallelism of 1, and timed. The rest of the job goes to the analysis threads only
    /// when that is estimated to save at least this much time per frame (<c>Jobs:PipelineThreadingThreshold</c>):
    /// decoding ahead while analysing, and analysing on every thread at once, save (decode + analysis) − max(decode,
    /// analysis ÷ parallelism). Below it the job stays on one thread to its end, because handing every frame from the
    /// decoder to the threads and back to the publisher costs more CPU than it saves time (tens of microseconds a frame).
    /// Zero hands every frame to the threads from the first one on.
    /// </summary>
    public TimeSpan PipelineThreadingThreshold { get; set; } = TimeSpan.FromMilliseconds(0.25);

    /// <summary>
    /// At most this many frames are timed before a job decides whether it uses its analysis threads (the medians decide):
    /// it takes them on as soon as the frames timed so far, at least <see cref="PipelineFirstProbeFrames"/>, say they pay,
    /// and stays on one thread once all of these say they do not.
    /// </summary>
    public const int PipelineProbeFrames = 8;

    /// <summary>The fewest frames timed before a job takes on its analysis threads.</summary>
    public const int PipelineFirstProbeFrames = 3;

    /// <summary>A plugin whose single frame takes longer than this is stopped for the job with <c>PLUGIN_TIMEOUT</c>.</summary>
    public TimeSpan PluginTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// At most one background checkpoint of running jobs per this interval (<c>Jobs:CheckpointInterval</c>). State
    /// transitions (started, finished) are always saved at once; this only spaces out the progress saves.
    /// </summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Jobs waiting for a worker, server-wide; a submission beyond it is answered 429 (<c>Jobs:MaxQueuedJobs</c>).</summary>
    public int MaxQueuedJobs { get; set; } = 1000;

    /// <summary>Jobs one client (its verified API key, else its address) may have waiting (<c>Jobs:MaxQueuedJobsPerClient</c>).</summary>
    public int MaxQueuedJobsPerClient { get; set; } = 100;

    /// <summary>
    /// Jobs one client may have running (or claimed by a worker) at once, on all nodes together
    /// (<c>Jobs:MaxRunningJobsPerClient</c>). 0 (the default) means no cap of its own: a lone user of the embedded server
    /// keeps every worker busy, as before. A server shared by several clients sets it, typically to the workers of a node
    /// but one (<see cref="MaxConcurrentJobs"/> − 1): one client alone then never holds every worker, so another client's
    /// job starts as soon as a worker is free instead of waiting for the first client's long jobs. Whatever the cap,
    /// workers take the next job round-robin between clients.
    /// </summary>
    public int MaxRunningJobsPerClient { get; set; }

    /// <summary>The effective per-client cap: <see cref="MaxRunningJobsPerClient"/>, or no cap (int.MaxValue) when it is 0 or less.</summary>
    public int EffectiveMaxRunningJobsPerClient => MaxRunningJobsPerClient > 0 ? MaxRunningJobsPerClient : int.MaxValue;

    /// <summary>A job whose source has more frames fails with <c>BUDGET_EXCEEDED</c> (<c>Jobs:MaxFrames</c>).</summary>
    public int MaxFrames { get; set; } = 100_000;

    /// <summary>A job whose frames are larger (width × height) fails with <c>BUDGET_EXCEEDED</c>; default 3840 × 2160.</summary>
    public long MaxPixelsPerFrame { get; set; } = 3840L * 2160;

    /// <summary>A job still running after this long fails with <c>BUDGET_EXCEEDED</c> (<c>Jobs:MaxDuration</c>).</summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// With the PostgreSQL queue: how long a worker's claim on a job lasts without renewal (<c>Jobs:LeaseDuration</c>).
    /// The worker renews it twice a second; any node fails a running job whose lease has expired (<c>WORKER_LOST</c>).
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// With the PostgreSQL queue: how often an idle worker looks for a queued job when no notification woke it
    /// (<c>Jobs:QueuePollInterval</c>). Submissions on any node wake the workers at once through <c>NOTIFY</c>; the poll is
    /// the safety net.
    /// </summary>
    public TimeSpan QueuePollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Finished jobs (and their frames) are deleted this long after they ended (<c>Jobs:Retention</c>).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);
}
