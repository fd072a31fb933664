using System.Collections.Concurrent;
using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Jobs;

namespace CleanRealtime.Application.Jobs.Projection;

/// <summary>
/// The jobs being run right now, as live aggregates: readers see every event as soon as it is folded in,
/// without waiting for the next checkpoint on disk. Also carries cancellation requests to the runner.
/// </summary>
public sealed class LiveJobs
{
    private readonly ConcurrentDictionary<Guid, LiveJob> _jobs = new();
    private readonly ConcurrentDictionary<Guid, byte> _cancelRequested = new();

    /// <summary>The ids of the jobs running on this node now.</summary>
    public IReadOnlyList<Guid> RunningIds => [.. _jobs.Keys];

    internal LiveJob Begin(Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var live = new LiveJob(job);
        if (!_jobs.TryAdd(job.Id, live))
        {
            live.Dispose();
            throw new InvalidOperationException($"Job {job.Id} is already running.");
        }

        if (_cancelRequested.ContainsKey(job.Id))
        {
            live.RequestCancel();
        }

        return live;
    }

    internal bool TryGet(Guid jobId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LiveJob? live) => _jobs.TryGetValue(jobId, out live);

    /// <summary>Whether the job runs on this node now.</summary>
    public bool IsRunning(Guid jobId) => _jobs.ContainsKey(jobId);

    /// <summary>Asks the job to stop before its next frame, whether it runs now or is about to start.</summary>
    public void RequestCancel(Guid jobId)
    {
        _cancelRequested[jobId] = 0;
        if (_jobs.TryGetValue(jobId, out var live))
        {
            live.RequestCancel();
        }
    }

    public bool IsCancelRequested(Guid jobId) => _cancelRequested.ContainsKey(jobId);

    public void End(Guid jobId)
    {
        _cancelRequested.TryRemove(jobId, out _);
        if (_jobs.TryRemove(jobId, out var live))
        {
            live.Dispose();
        }
    }
}

/// <summary>One running job. Every change and every read goes through its lock.</summary>
internal sealed class LiveJob : IDisposable
{
    private readonly Job _job;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _cancellation = new();

    internal LiveJob(Job job) => _job = job;

    public Guid Id => _job.Id;

    public CancellationToken Cancellation => _cancellation.Token;

    public bool IsCancellationRequested => _cancellation.IsCancellationRequested;

    public void Apply(Action<Job> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_gate)
        {
            change(_job);
        }
    }

    public JobMemento Snapshot(bool includeFrames = true)
    {
        lock (_gate)
        {
            return _job.ToMemento(includeFrames);
        }
    }

    /// <summary>Up to <paramref name="limit"/> frames from position <paramref name="offset"/> (0-based), and how many there are.</summary>
    public FramePage Frames(int offset, int limit)
    {
        lock (_gate)
        {
            var frames = _job.Frames;
            var count = Math.Clamp(frames.Count - offset, 0, limit);
            var items = new FrameResult[count];
            for (var i = 0; i < count; i++)
            {
                items[i] = frames[offset + i];
            }

            return new FramePage(items, frames.Count);
        }
    }

    internal void RequestCancel()
    {
        try
        {
            _cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The job ended between the lookup and the request: nothing left to cancel.
        }
    }

    public void Dispose() => _cancellation.Dispose();
}
