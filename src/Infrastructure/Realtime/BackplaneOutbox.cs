using System.Threading.Channels;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Infrastructure.Execution;
using CleanRealtime.Infrastructure.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// The messages waiting for Redis, bounded: when full the oldest is dropped (the other nodes fill it from the event
/// log). Counted and logged, never waited on.
/// </summary>
/// <remarks>
/// The seam between the publisher's thread and Redis: <see cref="RedisBackplane"/> writes to it and returns, one
/// <see cref="BackplaneSender"/> reads it. A slow or absent Redis costs messages (which the event log keeps), never the
/// publisher's time.
/// </remarks>
internal sealed partial class BackplaneOutbox
{
    private readonly NodeIdentity _node;
    private readonly ServerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<BackplaneOutbox> _logger;
    private readonly Channel<BackplaneMessage> _queue;
    private long _dropped;

    public BackplaneOutbox(NodeIdentity node, ServerMetrics metrics, TimeProvider time, IOptions<RealtimeOptions> options, ILogger<BackplaneOutbox> logger)
    {
        _node = node;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _queue = Channel.CreateBounded<BackplaneMessage>(
            new BoundedChannelOptions(Math.Max(1, options.Value.BackplaneOutboxCapacity))
            {
                SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.DropOldest,
            },
            dropped => CountDropped(dropped));
    }

    public string NodeId => _node.Id;

    /// <summary>Messages not sent to Redis so far (outbox full, or the link down).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public ChannelReader<BackplaneMessage> Reader => _queue.Reader;

    /// <summary>Queues a message for the other nodes, stamped with the time it was published; never waits.</summary>
    public void Enqueue(Guid jobId, long seq, OutboundMessage message, bool endsJob) =>
        _queue.Writer.TryWrite(new BackplaneMessage(_node.Id, jobId, seq, message.Type, endsJob, message.Json, _time.GetUtcNow().UtcTicks));

    public void CountSent(int count) => _metrics.BackplaneSent.Inc(count);

    public void Complete() => _queue.Writer.TryComplete();

    public void CountDropped(BackplaneMessage message)
    {
        var dropped = Interlocked.Increment(ref _dropped);
        _metrics.BackplaneNotSent.Inc();
        if (dropped == 1 || dropped % 1000 == 0)
        {
            LogDropped(message.JobId, message.Seq, dropped);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane: message {Seq} of job {JobId} not sent to Redis (link down or outbox full; {Dropped} so far); other nodes fill it from the event log")]
    private partial void LogDropped(Guid jobId, long seq, long dropped);
}
