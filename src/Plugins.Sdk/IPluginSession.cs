namespace CleanRealtime.Plugins.Sdk;

/// <summary>
/// One plugin's state for one job (or one lane of it, see <see cref="PluginConcurrency.Parallel"/>). A session is used
/// by one thread at a time; a <see cref="PluginConcurrency.Sequential"/> plugin's only session sees every frame, in
/// order. The server disposes it when the job's run ends, however it ends.
/// </summary>
public interface IPluginSession : IDisposable
{
    /// <summary>
    /// Analyses one frame and returns its result: an object that serializes to a JSON object (snake_case on the wire),
    /// at most <c>Plugins:MaxResultBytes</c> long. Warnings and running results go through <paramref name="context"/>.
    /// The frame's image must not be modified or kept after the call returns. An exception fails this plugin for
    /// this job (<c>PLUGIN_CRASH</c>); the job's other plugins go on.
    /// </summary>
    object Analyze(VideoFrame frame, PluginFrameContext context);
}
