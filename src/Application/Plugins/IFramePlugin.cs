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

    IPluginSession OpenSession(PluginSessionOptions options);
}

/// <summary>One plugin's state for one job. Frames arrive in order, on one thread at a time.</summary>
public interface IPluginSession : IDisposable
{
    /// <summary>
    /// Analyses one frame and returns its result (a JSON-serializable object, snake_case on the wire).
    /// Warnings go through <paramref name="context"/>. The frame's image must not be modified or kept.
    /// </summary>
    object Analyze(VideoFrame frame, PluginFrameContext context);
}

public sealed record PluginSessionOptions(string Device, double Fps, int? FrameCount);
