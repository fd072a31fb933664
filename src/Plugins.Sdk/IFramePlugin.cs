namespace CleanRealtime.Plugins.Sdk;

/// <summary>
/// An analysis tool. One instance serves every job; per-job state (a background model, a tracker) lives in the
/// <see cref="IPluginSession"/> it opens for each job. A plugin from a folder is constructed once when the server
/// starts, with a public parameterless constructor or one taking any of <c>ILoggerFactory</c>,
/// <c>TimeProvider</c>, <c>IConfiguration</c>.
/// </summary>
public interface IFramePlugin
{
    /// <summary>The registered name clients ask for, e.g. <c>motion_detection</c>: <c>[a-z][a-z0-9_]{1,63}</c>.</summary>
    string Name { get; }

    /// <summary>What the plugin says about itself: version, model, output format, its options.</summary>
    PluginMetadata Metadata { get; }

    /// <summary>
    /// Whether the server may analyse several frames of one job at once. <see cref="PluginConcurrency.Sequential"/>
    /// (the default) for a plugin whose session keeps state across frames; a plugin declares
    /// <see cref="PluginConcurrency.Parallel"/> only when each frame's result depends on that frame alone.
    /// </summary>
    PluginConcurrency Concurrency => PluginConcurrency.Sequential;

    /// <summary>Opens the plugin's state for one job (or one lane of it, for a parallel plugin).</summary>
    IPluginSession OpenSession(PluginSessionOptions options);
}
