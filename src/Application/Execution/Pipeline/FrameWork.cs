using System.Text.Json;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Execution.Pipeline;

internal enum FrameStop
{
    None,
    Cancelled,
    OverBudget,

    /// <summary>No frame came in this place: the source ended, failed or was stopped (raised by <see cref="FramePipeline.ThrowIfDecodeFailed"/>).</summary>
    EndOfSource,
}

/// <summary>What one plugin made of one frame.</summary>
internal sealed record Outcome(JsonElement Data, JsonElement? Partial, PluginWarning[] Warnings, double TimingMs, Exception? Failure);

/// <summary>
/// One frame on its way through the plugins, from its place in the publisher's queue (before it is read, see
/// <see cref="Take"/>) to done: once every plugin has analysed or skipped it, or at once when the job stops there.
/// </summary>
internal sealed class FrameWork(int plugins)
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pending = plugins;
    private int _disposed;
    private VideoFrame? _frame;

    /// <summary>The frame; read only by a lane it was handed to, or by the publisher once <see cref="Done"/>.</summary>
    public VideoFrame Frame => _frame ?? throw new InvalidOperationException("No frame was read in this place.");

    /// <summary>Per plugin slot, written by that plugin's lane before it signals <see cref="Skip"/>.</summary>
    public Outcome?[] Outcomes { get; } = new Outcome?[plugins];

    public FrameStop Stop { get; private set; }

    public string? StopReason { get; private set; }

    /// <summary>A plugin found the job stopping before it could analyse this frame.</summary>
    public bool Interrupted { get; set; }

    public Task Done => _done.Task;

    /// <summary>The frame read for this place, before it is handed to any plugin.</summary>
    public void Take(VideoFrame frame) => _frame = frame;

    /// <summary>The job stops at this frame; it is disposed at once, never analysed, and done.</summary>
    public void StopHere(FrameStop stop, string? reason)
    {
        Stop = stop;
        StopReason = reason;
        DisposeFrame();
        _done.TrySetResult();
    }

    /// <summary>The plugin in <paramref name="slot"/> is done with this frame (analysed it, or never will).</summary>
    public void Skip(int slot)
    {
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            _done.TrySetResult();
        }
    }

    public void DisposeFrame()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _frame?.Dispose();
        }
    }
}
