namespace CleanRealtime.Plugins.Sdk;

/// <summary>What a session is opened with: the job, its device and source, and the plugin's resolved options.</summary>
public sealed record PluginSessionOptions
{
    /// <summary>The job the session serves (<see cref="Guid.Empty"/> when a plugin runs outside a job, e.g. in tests).</summary>
    public Guid JobId { get; init; }

    /// <summary>The device the job runs on: <c>cpu</c> or <c>gpu</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Frames per second of the source (0 = unpaced, e.g. a synthetic scene run as fast as possible).</summary>
    public double Fps { get; init; }

    /// <summary>How many frames the source will yield, when known in advance (null for a live source).</summary>
    public int? FrameCount { get; init; }

    /// <summary>The plugin's options for this job: each declared option's value, or its default.</summary>
    public PluginOptionValues Options { get; init; } = PluginOptionValues.Empty;
}
