using System.Collections.Concurrent;

namespace CleanRealtime.Application.Execution;

/// <summary>
/// The threads one job's plugin calls run on: a fixed number of dedicated threads taking tasks first in, first out.
/// Plugin calls are long and blocking (OpenCV), so they are kept off the .NET thread pool, where they would starve the
/// server's own work (the publisher, Kestrel) and make the pool inject threads; and at most <c>count</c> of them run at
/// once, which is how a job's parallelism is bounded. Tasks are never inlined on other threads.
/// </summary>
internal sealed class AnalysisThreads : TaskScheduler, IDisposable
{
    private readonly ConcurrentQueue<Task> _queue = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Thread[] _threads;
    private volatile bool _disposed;

    public AnalysisThreads(int count, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _threads = new Thread[count];
        for (var i = 0; i < count; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"{name} {i + 1}" };
            _threads[i].Start();
        }
    }

    public override int MaximumConcurrencyLevel => _threads.Length;

    /// <summary>Lets every thread finish the tasks already queued, then waits for them to end.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _signal.Release(_threads.Length);
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _signal.Dispose();
    }

    protected override void QueueTask(Task task)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _queue.Enqueue(task);
        _signal.Release();
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => [.. _queue];

    private void Work()
    {
        while (true)
        {
            _signal.Wait();
            if (_queue.TryDequeue(out var task))
            {
                TryExecuteTask(task);
            }
            else if (_disposed)
            {
                return;
            }
        }
    }
}
