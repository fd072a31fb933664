using System.Threading.Channels;
using CleanRealtime.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Appends job messages to the <see cref="IJobEventLog"/> in batches, off the publishing path: a publisher only queues
/// a message (and waits only when <see cref="RealtimeOptions.EventLogQueueCapacity"/> messages are already pending).
/// <see cref="FlushAsync"/> waits until everything queued before it is stored — how a job's log is completed before
/// its final state is saved. A batch the log refuses is retried with a growing pause for
/// <see cref="RealtimeOptions.EventLogRetryFor"/> (publishers wait meanwhile once the queue is full: a job slows down
/// rather than lose its history); messages still not stored then are counted in <see cref="Health"/> and reported
/// through <see cref="Lost"/>, so the job's live stream says so, and a replay over them answers <c>REPLAY_UNAVAILABLE</c>.
/// </summary>
public sealed partial class JobEventWriter(IJobEventLog log, IOptions<RealtimeOptions> options, TimeProvider time, ILogger<JobEventWriter> logger)
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(5);

    private readonly Channel<Entry> _queue = Channel.CreateBounded<Entry>(
        new BoundedChannelOptions(Math.Max(1, options.Value.EventLogQueueCapacity))
        {
            SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait,
        });

    private readonly int _batchSize = Math.Max(1, options.Value.EventLogBatchSize);
    private readonly TimeSpan _batchDelay = options.Value.EventLogBatchDelay;

    private readonly TimeSpan _retryFor = options.Value.EventLogRetryFor;

    // Messages queued and not yet written: a flush with none pending returns at once.
    private long _pending;

    /// <summary>Whether writes fail now, and what was lost or reported missing (for health and metrics).</summary>
    public EventLogHealth Health { get; } = new(time);

    /// <summary>
    /// Messages of one job that could not be stored after every retry: the job, and the first and last <c>seq</c> of the
    /// lost run. Raised on the writer's loop; a handler must not block.
    /// </summary>
    public event Action<Guid, long, long>? Lost;

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
            Health.Lost(1);
            LogLostAfterStop(jobEvent.JobId, jobEvent.Seq);
        }
    }

    /// <summary>
    /// Retries a failing batch with a pause doubling from 100 ms to 5 s, for <see cref="RealtimeOptions.EventLogRetryFor"/>
    /// on the injected clock; then the batch is lost: counted, logged, and reported per job through <see cref="Lost"/>.
    /// </summary>
    private async Task WriteAsync(List<JobEvent> batch, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var pause = FirstPause;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await log.AppendAsync(batch, cancellationToken).ConfigureAwait(false);
                Health.WriteSucceeded();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Health.WriteFailed(ex);
                if (time.GetUtcNow() - started >= _retryFor)
                {
                    GiveUp(batch, ex, attempt);
                    return;
                }

                LogRetrying(ex, batch.Count, attempt);
                await Task.Delay(pause, time, cancellationToken).ConfigureAwait(false);
                pause = pause * 2 < LongestPause ? pause * 2 : LongestPause;
            }
        }
    }

    private void GiveUp(List<JobEvent> batch, Exception exception, int attempts)
    {
        Health.Lost(batch.Count);
        LogLost(exception, batch.Count, string.Join(", ", batch.Select(e => e.JobId).Distinct()), attempts);
        foreach (var job in batch.GroupBy(e => e.JobId))
        {
            var first = job.Min(e => e.Seq);
            var last = job.Max(e => e.Seq);
            LogLostRange(job.Key, first, last);
            Lost?.Invoke(job.Key, first, last);
        }
    }

    private readonly record struct Entry(JobEvent? Event, TaskCompletionSource? Flushed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} job messages to the event log failed (attempt {Attempt}); retrying")]
    private partial void LogRetrying(Exception exception, int count, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up writing {Count} messages of jobs {JobIds} to the event log after {Attempts} attempts; they cannot be replayed")]
    private partial void LogLost(Exception exception, int count, string jobIds, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Messages {First}-{Last} of job {JobId} are not in the event log; a replay over them answers REPLAY_UNAVAILABLE")]
    private partial void LogLostRange(Guid jobId, long first, long last);

    [LoggerMessage(Level = LogLevel.Error, Message = "Message {Seq} of job {JobId} was published after the event log stopped; it cannot be replayed")]
    private partial void LogLostAfterStop(Guid jobId, long seq);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The event log was asked to flush after it stopped")]
    private partial void LogFlushAfterStop();
}
