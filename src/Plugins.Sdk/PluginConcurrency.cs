namespace CleanRealtime.Plugins.Sdk;

/// <summary>How the frames of one job may be handed to a plugin's sessions.</summary>
public enum PluginConcurrency
{
    /// <summary>One session for the job; frames arrive in order, one at a time (a background model, a tracker).</summary>
    Sequential,

    /// <summary>
    /// Stateless: the server may open several sessions for one job (one per lane) and analyse several frames at once,
    /// in any order; each session still sees one frame at a time, and results are published in frame order.
    /// </summary>
    Parallel,
}
