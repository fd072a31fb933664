using System.Threading.Channels;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Execution.Pipeline;

/// <summary>One requested plugin in one job.</summary>
internal sealed class PluginRun(string name, int slot)
{
    private int _lastFrame = int.MaxValue;

    public string Name { get; } = name;

    /// <summary>Its place in the job's plugin order, and in each frame's outcomes.</summary>
    public int Slot { get; } = slot;

    /// <summary>One session per lane: one for a sequential plugin, one per analysis thread for a parallel one.</summary>
    public List<LaneSession> Sessions { get; } = [];

    /// <summary>The frames handed to its lanes; null when it never started.</summary>
    public Channel<FrameWork>? Inbox { get; set; }

    /// <summary>Publisher's view: started and not failed (as published so far).</summary>
    public bool Active { get; set; }

    public int FramesProcessed { get; set; }

    /// <summary>Analysis threads' view: false for frames after the one it failed on (or for all, once it was stopped).</summary>
    public bool AnalysesFrame(int index) => index <= Volatile.Read(ref _lastFrame);

    /// <summary>No frame after <paramref name="index"/> is analysed any more (the lowest index wins).</summary>
    public void StopAfter(int index)
    {
        var last = Volatile.Read(ref _lastFrame);
        while (index < last)
        {
            var seen = Interlocked.CompareExchange(ref _lastFrame, index, last);
            if (seen == last)
            {
                return;
            }

            last = seen;
        }
    }

    public void DisposeSessions()
    {
        foreach (var session in Sessions)
        {
            session.Dispose();
        }

        Sessions.Clear();
    }
}

/// <summary>A session, disposed exactly once: by its lane as soon as its plugin failed, else at the end of the job.</summary>
internal sealed class LaneSession(IPluginSession session)
{
    private int _disposed;

    public IPluginSession Session { get; } = session;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Session.Dispose();
        }
    }
}
