using System.Threading.Channels;
using CleanRealtime.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Appends job messages to the <see cref="IJobEventLog"/> in batches, off the publishing path: a publisher only queues
/// a message (and waits only when <see cref="RealtimeOptions.EventLogQueueCapacity"/> messages are already pending).
/// <see cref="FlushAsync"/> waits until everything queued before it is stored — how a job's log is completed before
/// its final state is saved.
/// </summary>
public sealed partial class JobEventWriter(IJobEventLog log, IOptions<RealtimeOptions> options, TimeProvider time, ILogger<JobEventWriter> logger)
{
    private const int MaxAttempts = 5;

    private readonly Channel<Entry> _queue = Channel.CreateBounded<Entry>(
        new BoundedChannelOptions(Math.Max(1, options.Value.EventLogQueueCapacity))
        {
            SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait,
        });

    private readonly int _batchSize = Math.Max(1, options.Value.EventLogBatchSize);
    private readonly TimeSpan _batchDelay = options.Value.EventLogBatchDelay;

    // Messages queued and not yet written: a flush with none pending returns at once.
    private long _pending;

    /// <summary>Queues one message for the log; completes at once unless the queue is full.</summary>
    public ValueTask AppendAsync(JobEvent jobEvent)
    {
        ArgumentNullException.ThrowIfNull(jobEvent);
        Interlocked.Increment(ref _pending);
        return _queue.Writer.TryWrite(new Entry(jobEvent, null)) ? ValueTask.CompletedTask : WaitAndAppendAsync(jobEvent);
    }

    /// <summary>Completes once every message queued before this call has been written (or given up on, logged).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Read(ref _pending) == 0)
        {
            return;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _queue.Writer.WriteAsync(new Entry(null, done), cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            LogFlushAfterStop();
            return;
        }

        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>No more messages: <see cref="RunAsync"/> writes what is queued, then returns.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>The background loop (run by a hosted service) until <see cref="Complete"/>: one batch per wake-up.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var flushes = new List<TaskCompletionSource>();
        while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var batch = new List<JobEvent>(Math.Min(_batchSize, Math.Max(16, _queue.Reader.Count)));
            Take(batch, flushes);
            if (batch.Count < _batchSize && flushes.Count == 0 && _batchDelay > TimeSpan.Zero)
            {
                // Fewer than a batch and nobody waiting on a flush: let more messages come, then write them together.
                // Real time on purpose: a pause for batching, not a timeout (a test clock that never moves must not stall the log).
                await Task.Delay(_batchDelay, TimeProvider.System, cancellationToken).ConfigureAwait(false);
                Take(batch, flushes);
            }

            if (batch.Count > 0)
            {
                await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref _pending, -batch.Count);
            }

            foreach (var flushed in flushes)
            {
                flushed.TrySetResult();
            }

            flushes.Clear();
        }
    }

    private void Take(List<JobEvent> batch, List<TaskCompletionSource> flushes)
    {
        while (batch.Count < _batchSize && _queue.Reader.TryRead(out var entry))
        {
            if (entry.Event is { } jobEvent)
            {
                batch.Add(jobEvent);
            }
            else
            {
                flushes.Add(entry.Flushed!);
            }
        }
    }

    private async ValueTask WaitAndAppendAsync(JobEvent jobEvent)
    {
        try
        {
            await _queue.Writer.WriteAsync(new Entry(jobEvent, null)).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            Interlocked.Decrement(ref _pending);
            LogLostAfterStop(jobEvent.JobId, jobEvent.Seq);
        }
    }

    /// <summary>Retries a failing batch with a growing pause; after <see cref="MaxAttempts"/> the batch is logged as lost.</summary>
    private async Task WriteAsync(List<JobEvent> batch, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await log.AppendAsync(batch, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (attempt == MaxAttempts)
                {
                    LogLost(ex, batch.Count, string.Join(", ", batch.Select(e => e.JobId).Distinct()), attempt);
                    return;
                }

                LogRetrying(ex, batch.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(100 << attempt), time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private readonly record struct Entry(JobEvent? Event, TaskCompletionSource? Flushed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} job messages to the event log failed (attempt {Attempt}); retrying")]
    private partial void LogRetrying(Exception exception, int count, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up writing {Count} messages of jobs {JobIds} to the event log after {Attempts} attempts; they cannot be replayed")]
    private partial void LogLost(Exception exception, int count, string jobIds, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Message {Seq} of job {JobId} was published after the event log stopped; it cannot be replayed")]
    private partial void LogLostAfterStop(Guid jobId, long seq);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The event log was asked to flush after it stopped")]
    private partial void LogFlushAfterStop();
}
