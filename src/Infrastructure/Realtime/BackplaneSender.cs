using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Infrastructure.Metrics;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// Drains the <see cref="BackplaneOutbox"/> to Redis in batches (what the outbox holds when it wakes, up to
/// <see cref="MaxBatch"/>), each sent by <see cref="BackplaneScripts.PublishAsync"/>; while the link is down the
/// messages are dropped (the other nodes fill them from the event log).
/// </summary>
/// <remarks>
/// The one reader of the outbox, run by <see cref="RedisLink"/> for as long as the link runs. It never waits for
/// Redis's answer to a batch: a failed one is counted and logged (through the link's logger, the category those lines
/// always had), and the next batch goes out at once.
/// </remarks>
internal sealed partial class BackplaneSender(BackplaneOutbox outbox, ServerMetrics metrics, ILogger logger)
{
    // At most this many messages per script call (what the outbox holds when the sender wakes, up to this).
    private const int MaxBatch = 64;

    private long _sendFailures;

    /// <summary>
    /// Drains the outbox in batches: each sent by the publish script without waiting for its answer (a failed one is
    /// counted and logged); while the link is down the messages are dropped. Returns when the outbox is completed or
    /// the node stops.
    /// </summary>
    public async Task RunAsync(ConnectionMultiplexer redis, CancellationToken stoppingToken)
    {
        var batch = new List<BackplaneMessage>(MaxBatch);
        var reader = outbox.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < MaxBatch && reader.TryRead(out var message))
                {
                    batch.Add(message);
                }

                if (redis.IsConnected)
                {
                    var sending = BackplaneScripts.PublishAsync(redis.GetDatabase(), batch);
                    _ = sending.ContinueWith(
                        static (task, state) => ((BackplaneSender)state!).OnSendFailed(task.Exception!),
                        this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default);
                    outbox.CountSent(batch.Count);
                }
                else
                {
                    foreach (var message in batch)
                    {
                        outbox.CountDropped(message);
                    }
                }

                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is still queued is in the event log.
        }
    }

    private void OnSendFailed(AggregateException exception)
    {
        var failures = Interlocked.Increment(ref _sendFailures);
        metrics.BackplaneNotSent.Inc();
        if (failures == 1 || failures % 1000 == 0)
        {
            LogSendFailed(exception.GetBaseException(), failures);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane: sending a batch of messages to Redis failed ({Failures} batches so far); other nodes fill them from the event log")]
    private partial void LogSendFailed(Exception exception, long failures);
}
