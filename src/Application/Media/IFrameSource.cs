using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Media;

/// <summary>An opened frame source; frames are decoded once, in order.</summary>
public interface IFrameSource : IDisposable
{
    /// <summary>How many frames the source will yield, when known in advance.</summary>
    int? FrameCount { get; }

    /// <summary>Frames per second of the source (0 = as fast as possible).</summary>
    double Fps { get; }

    /// <summary>Yields frames in order; the caller disposes each one. A live-paced source waits between frames.</summary>
    IAsyncEnumerable<VideoFrame> ReadFramesAsync(CancellationToken cancellationToken);
}

public interface IFrameSourceFactory
{
    /// <summary>Checks a source string without opening it: null when acceptable, else why not (for a 400).</summary>
    string? Validate(string source);

    /// <summary>Opens a source. Throws <see cref="SourceUnreadableException"/> when it cannot be read.</summary>
    IFrameSource Open(string source);
}

/// <summary>The source exists in the request but cannot be decoded (missing, corrupt, unsupported).</summary>
public sealed class SourceUnreadableException(string message, Exception? inner = null) : Exception(message, inner);
