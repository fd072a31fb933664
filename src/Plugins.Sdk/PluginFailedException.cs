namespace CleanRealtime.Plugins.Sdk;

/// <summary>
/// Thrown by a session that cannot go on for this job: the plugin fails with <c>PLUGIN_FAILED</c> and this message
/// (any other exception fails it with <c>PLUGIN_CRASH</c>). The job's other plugins go on.
/// </summary>
public class PluginFailedException : Exception
{
    /// <summary>A failure with no message.</summary>
    public PluginFailedException()
    {
    }

    /// <summary>A failure saying what happened.</summary>
    public PluginFailedException(string message)
        : base(message)
    {
    }

    /// <summary>A failure saying what happened, and what caused it.</summary>
    public PluginFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Thrown by a session that gave up waiting for its own work on a frame (a child process that does not answer in
/// time): the plugin fails with <c>PLUGIN_TIMEOUT</c>.
/// </summary>
public sealed class PluginTimeoutException : PluginFailedException
{
    /// <summary>A timeout with no message.</summary>
    public PluginTimeoutException()
    {
    }

    /// <summary>A timeout saying what was waited for.</summary>
    public PluginTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>A timeout saying what was waited for, and what caused it.</summary>
    public PluginTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
