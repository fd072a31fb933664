using CleanRealtime.Application.Media;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Plugins;

/// <summary>
/// An analysis tool. One instance serves every job; per-job state (a background model, a tracker)
/// lives in the <see cref="IPluginSession"/> it opens for each job.
/// </summary>
public interface IFramePlugin
{
    /// <summary>The registered name clients ask for, e.g. <c>motion_detection</c>.</summary>
    string Name { get; }

    PluginMetadata Metadata { get; }

    /// <summary>
    /// Whether the runner may analyse several frames of one job at once. <see cref="PluginConcurrency.Sequential"/>
    /// (the default) for a plugin whose session keeps state across frames; a plugin declares
    /// <see cref="PluginConcurrency.Parallel"/> only when each frame's result depends on that frame alone.
    /// </summary>
    PluginConcurrency Concurrency => PluginConcurrency.Sequential;

    IPluginSession OpenSession(PluginSessionOptions options);
}

/// <summary>How the frames of one job may be handed to a plugin's sessions.</summary>
public enum PluginConcurrency
{
    /// <summary>One session for the job; frames arrive in order, one at a time (a background model, a tracker).</summary>
    Sequential,

    /// <summary>
    /// Stateless: the runner may open several sessions for one job (one per lane) and analyse several frames at once,
    /// in any order; each session still sees one frame at a time, and results are published in frame order.
    /// </summary>
    Parallel,
}

/// <summary>
/// One plugin's state for one job (or one lane of it, see <see cref="PluginConcurrency.Parallel"/>). A session is used by
/// one thread at a time; a <see cref="PluginConcurrency.Sequential"/> plugin's only session sees every frame, in order.
/// </summary>
public interface IPluginSession : IDisposable
{
    /// <summary>
    /// Analyses one frame and returns its result (a JSON-serializable object, snake_case on the wire).
    /// Warnings go through <paramref name="context"/>. The frame's image must not be modified or kept.
    /// </summary>
    object Analyze(VideoFrame frame, PluginFrameContext context);
}

public sealed record PluginSessionOptions(string Device, double Fps, int? FrameCount);
