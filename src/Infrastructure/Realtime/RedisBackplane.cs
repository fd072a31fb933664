using System.Buffers.Binary;
using System.Text;
using System.Threading.Channels;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Execution;
using CleanRealtime.Infrastructure.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// The fan-out with <c>Realtime:Backplane=redis</c> (SignalR's RedisHubLifetimeManager): a message published here goes
/// to this node's subscribers through the local broadcaster it decorates (<see cref="IRealtimeBroadcaster.LocalKey"/>,
/// registered by the Api beside its sessions) and is queued for the other nodes; the publisher never waits for Redis.
/// </summary>
internal sealed class RedisBackplane(
    [FromKeyedServices(IRealtimeBroadcaster.LocalKey)] IRealtimeBroadcaster local, BackplaneOutbox outbox) : IRealtimeBroadcaster
{
    public void Publish(PublishedMessage message)
    {
        local.Publish(message);
        if (message.JobId is { } jobId && message.Outbound.Seq is { } seq)
        {
            outbox.Enqueue(jobId, seq, message.Outbound, message.EndsJob);
        }
    }

    public void Deliver(Guid jobId, OutboundMessage message) => local.Deliver(jobId, message);

    public bool HasSubscribers(Guid? jobId) => local.HasSubscribers(jobId);
}

/// <summary>
/// The messages waiting for Redis, bounded: when full the oldest is dropped (the other nodes fill it from the event
/// log). Counted and logged, never waited on.
/// </summary>
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

/// <summary>
/// This node's link to Redis: one channel that every node publishes its job messages to and subscribes to. Outgoing
/// messages wait in a bounded outbox (the oldest dropped when it is full, or sent nowhere while Redis is down: the
/// other nodes fill what they miss from the event log); incoming ones from other nodes go to the
/// <see cref="RemoteJobStreams"/> in the order Redis delivers them (a node ignores its own). The link's failures and returns are logged and
/// reported to the mirrors, which catch up from the log.
/// </summary>
/// <remarks>
/// Messages are sent in batches of what the outbox holds, by one script that first raises each job's "last published
/// <c>seq</c>" key (<see cref="LastSeqKey"/>) and then publishes the messages, atomically: no node can receive a message
/// whose <c>seq</c> the key does not cover, so a job whose worker dies is ended after it (<see cref="RedisPublishedSeqs"/>).
/// A job closed that way (<see cref="ClosedKey"/>) is fenced off: the script drops whatever is still sent for it.
/// </remarks>
internal sealed partial class RedisLink : BackgroundService
{
    private const string ChannelName = "cleanrealtime:job-messages";
    public static readonly RedisChannel Channel = RedisChannel.Literal(ChannelName);

    /// <summary>How long a job's "last published seq" key outlives its last message: long past any lease and reap.</summary>
    public static readonly TimeSpan LastSeqKeyLifetime = TimeSpan.FromDays(1);

    // At most this many messages per script call (what the outbox holds when the sender wakes, up to this).
    private const int MaxBatch = 64;

    // KEYS: the batch's jobs' last-seq keys, then their closed keys. ARGV[1]: the channel; ARGV[2]: the keys' lifetime in
    // ms; ARGV[3 .. 2+jobs]: each job's highest seq in the batch; then per message its job's index and its bytes, in order.
    // Seqs are compared as numbers and written as given (exact). A closed job's messages are dropped.
    private const string PublishScript = """
        local jobs = #KEYS / 2
        local open = {}
        for i = 1, jobs do
          open[i] = redis.call('EXISTS', KEYS[jobs + i]) == 0
          if open[i] then
            local seq = ARGV[2 + i]
            local current = redis.call('GET', KEYS[i])
            if current == false or tonumber(seq) > tonumber(current) then
              redis.call('SET', KEYS[i], seq, 'PX', ARGV[2])
            else
              redis.call('PEXPIRE', KEYS[i], ARGV[2])
            end
          end
        end
        local sent = 0
        for j = 3 + jobs, #ARGV, 2 do
          if open[tonumber(ARGV[j])] then
            redis.call('PUBLISH', ARGV[1], ARGV[j + 1])
            sent = sent + 1
          end
        end
        return sent
        """;

    // KEYS[1]: the job's last-seq key, KEYS[2]: its closed key; ARGV[1]: the lifetime in ms. Returns the last seq sent.
    private const string CloseScript = """
        redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
        return redis.call('GET', KEYS[1])
        """;

    private readonly string _connectionString;
    private readonly BackplaneOutbox _outbox;
    private readonly RemoteJobStreams _remote;
    private readonly ServerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisLink> _logger;
    private ConnectionMultiplexer? _redis;
    private long _sendFailures;

    public RedisLink(
        RedisConnection connection, BackplaneOutbox outbox, RemoteJobStreams remote, ServerMetrics metrics, TimeProvider time, ILogger<RedisLink> logger)
    {
        _connectionString = connection.ConnectionString;
        _outbox = outbox;
        _remote = remote;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var configuration = ConfigurationOptions.Parse(_connectionString);
        configuration.AbortOnConnectFail = false;
        configuration.ClientName ??= "cleanrealtime:" + _outbox.NodeId;
        _redis = await ConnectionMultiplexer.ConnectAsync(configuration);
        _redis.ConnectionFailed += (_, e) => OnFailed(e);
        _redis.ConnectionRestored += (_, e) => OnRestored(e);
        if (_redis.IsConnected)
        {
            LogConnected(_outbox.NodeId, string.Join(", ", configuration.EndPoints));
        }
        else
        {
            LogNotConnected(string.Join(", ", configuration.EndPoints));
            _remote.LinkLost();
        }

        var subscriber = _redis.GetSubscriber();
        var incoming = await SubscribeAsync(subscriber, stoppingToken);
        incoming.OnMessage(Receive);
        try
        {
            await SendAsync(stoppingToken);
        }
        finally
        {
            await incoming.UnsubscribeAsync();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _outbox.Complete();
        _remote.Stop();
        await base.StopAsync(cancellationToken);
        if (_redis is not null)
        {
            await _redis.CloseAsync();
            await _redis.DisposeAsync();
            LogDisconnected(_outbox.NodeId);
        }
    }

    /// <summary>The connection to Redis once the link started (null before).</summary>
    public ConnectionMultiplexer? Connection => Volatile.Read(ref _redis);

    /// <summary>The key that holds the highest <c>seq</c> of a job any node published through Redis.</summary>
    public static RedisKey LastSeqKey(Guid jobId) => "cleanrealtime:job-last-seq:" + jobId.ToString("N");

    /// <summary>The key that marks a job closed on the backplane (its worker was lost): its messages are no longer relayed.</summary>
    public static RedisKey ClosedKey(Guid jobId) => "cleanrealtime:job-closed:" + jobId.ToString("N");

    /// <summary>Closes the job on the backplane and returns the highest seq relayed before (null: none).</summary>
    internal static async Task<RedisValue> CloseAsync(IDatabase database, Guid jobId)
    {
        var result = await database.ScriptEvaluateAsync(
            CloseScript, [LastSeqKey(jobId), ClosedKey(jobId)], [(long)LastSeqKeyLifetime.TotalMilliseconds]);
        return (RedisValue)result;
    }

    /// <summary>Subscribes once Redis answers (the multiplexer subscribes again by itself after every reconnect).</summary>
    private async Task<ChannelMessageQueue> SubscribeAsync(ISubscriber subscriber, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await subscriber.SubscribeAsync(Channel);
            }
            catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException)
            {
                LogSubscribeFailed(ex, attempt);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, stoppingToken);
            }
        }
    }

    /// <summary>
    /// Drains the outbox in batches: each sent by the publish script without waiting for its answer (a failed one is
    /// counted and logged); while the link is down the messages are dropped.
    /// </summary>
    private async Task SendAsync(CancellationToken stoppingToken)
    {
        var batch = new List<BackplaneMessage>(MaxBatch);
        var reader = _outbox.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < MaxBatch && reader.TryRead(out var message))
                {
                    batch.Add(message);
                }

                if (_redis!.IsConnected)
                {
                    var sending = PublishAsync(_redis.GetDatabase(), batch);
                    _ = sending.ContinueWith(
                        static (task, state) => ((RedisLink)state!).OnSendFailed(task.Exception!),
                        this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default);
                    _outbox.CountSent(batch.Count);
                }
                else
                {
                    foreach (var message in batch)
                    {
                        _outbox.CountDropped(message);
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

    /// <summary>Sends a batch: raises each open job's last-seq key, then publishes its messages; a closed job's are dropped.</summary>
    internal static Task<RedisResult> PublishAsync(IDatabase database, IReadOnlyList<BackplaneMessage> batch)
    {
        var (keys, values) = PublishArguments(batch);
        return database.ScriptEvaluateAsync(PublishScript, keys, values);
    }

    /// <summary>The keys and arguments of <see cref="PublishScript"/> for a batch: each job's highest seq, then the messages.</summary>
    internal static (RedisKey[] Keys, RedisValue[] Values) PublishArguments(IReadOnlyList<BackplaneMessage> batch)
    {
        var highest = new List<(Guid JobId, long Seq)>();
        foreach (var message in batch)
        {
            var index = highest.FindIndex(h => h.JobId == message.JobId);
            if (index < 0)
            {
                highest.Add((message.JobId, message.Seq));
            }
            else if (message.Seq > highest[index].Seq)
            {
                highest[index] = (message.JobId, message.Seq);
            }
        }

        var keys = new RedisKey[2 * highest.Count];
        var values = new RedisValue[2 + highest.Count + (2 * batch.Count)];
        values[0] = ChannelName;
        values[1] = (long)LastSeqKeyLifetime.TotalMilliseconds;
        for (var i = 0; i < highest.Count; i++)
        {
            keys[i] = LastSeqKey(highest[i].JobId);
            keys[highest.Count + i] = ClosedKey(highest[i].JobId);
            values[2 + i] = highest[i].Seq;
        }

        for (var j = 0; j < batch.Count; j++)
        {
            var at = 2 + highest.Count + (2 * j);
            values[at] = highest.FindIndex(h => h.JobId == batch[j].JobId) + 1;
            values[at + 1] = Encode(batch[j]);
        }

        return (keys, values);
    }

    private void OnSendFailed(AggregateException exception)
    {
        var failures = Interlocked.Increment(ref _sendFailures);
        _metrics.BackplaneNotSent.Inc();
        if (failures == 1 || failures % 1000 == 0)
        {
            LogSendFailed(exception.GetBaseException(), failures);
        }
    }

    private void Receive(ChannelMessage received)
    {
        if (!TryDecode(received.Message, out var message))
        {
            LogUndecodable(((byte[]?)received.Message)?.Length ?? 0);
            return;
        }

        if (message.NodeId == _outbox.NodeId)
        {
            return;
        }

        _metrics.BackplaneReceived.Inc();
        _metrics.BackplaneLatency.Observe(Math.Max(0, _time.GetUtcNow().UtcTicks - message.PublishedAtUtcTicks) / (double)TimeSpan.TicksPerSecond);

        try
        {
            _remote.Receive(message);
        }
        catch (Exception ex)
        {
            // A defect: logged in full; the mirror's next catch-up reads the message from the event log.
            LogReceiveFailed(ex, message.JobId, message.Seq);
        }
    }

    private void OnFailed(ConnectionFailedEventArgs e)
    {
        LogLinkFailed(e.Exception, e.ConnectionType.ToString(), e.EndPoint?.ToString(), e.FailureType.ToString());
        _remote.LinkLost();
    }

    private void OnRestored(ConnectionFailedEventArgs e)
    {
        LogLinkRestored(e.ConnectionType.ToString(), e.EndPoint?.ToString(), _outbox.Dropped);
        _remote.LinkRestored();
    }

    // Wire format, version 2: [2][flags: 1 = ends the job][type][seq: int64 BE][job id: 16][published at: UTC ticks, int64 BE]
    // [node id length: int16 BE][node id: UTF-8][the envelope's JSON bytes, as every subscriber receives them].
    private const byte Version = 2;
    private const int HeaderLength = 1 + 1 + 1 + 8 + 16 + 8 + 2;

    internal static byte[] Encode(BackplaneMessage message)
    {
        var node = Encoding.UTF8.GetBytes(message.NodeId);
        var bytes = new byte[HeaderLength + node.Length + message.Json.Length];
        var span = bytes.AsSpan();
        span[0] = Version;
        span[1] = message.EndsJob ? (byte)1 : (byte)0;
        span[2] = (byte)message.Type;
        BinaryPrimitives.WriteInt64BigEndian(span[3..], message.Seq);
        message.JobId.TryWriteBytes(span.Slice(11, 16));
        BinaryPrimitives.WriteInt64BigEndian(span[27..], message.PublishedAtUtcTicks);
        BinaryPrimitives.WriteInt16BigEndian(span[35..], checked((short)node.Length));
        node.CopyTo(span[HeaderLength..]);
        message.Json.CopyTo(span[(HeaderLength + node.Length)..]);
        return bytes;
    }

    internal static bool TryDecode(RedisValue value, out BackplaneMessage message)
    {
        message = null!;
        var bytes = (byte[]?)value;
        if (bytes is null || bytes.Length < HeaderLength || bytes[0] != Version || !Enum.IsDefined((MessageType)bytes[2]))
        {
            return false;
        }

        var span = bytes.AsSpan();
        var nodeLength = BinaryPrimitives.ReadInt16BigEndian(span[35..]);
        if (nodeLength < 0 || HeaderLength + nodeLength > bytes.Length)
        {
            return false;
        }

        message = new BackplaneMessage(
            Encoding.UTF8.GetString(span.Slice(HeaderLength, nodeLength)), new Guid(span.Slice(11, 16)),
            BinaryPrimitives.ReadInt64BigEndian(span[3..]), (MessageType)bytes[2], (bytes[1] & 1) != 0,
            span[(HeaderLength + nodeLength)..].ToArray(), BinaryPrimitives.ReadInt64BigEndian(span[27..]));
        return message.Seq >= 1;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Backplane connected to Redis ({Endpoints}) as node {NodeId}")]
    private partial void LogConnected(string nodeId, string endpoints);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane: Redis ({Endpoints}) is not reachable yet; retrying in the background, subscribers here read the event log meanwhile")]
    private partial void LogNotConnected(string endpoints);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backplane disconnected from Redis (node {NodeId} stopping)")]
    private partial void LogDisconnected(string nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane link to Redis failed ({ConnectionType} connection to {Endpoint}: {FailureType})")]
    private partial void LogLinkFailed(Exception? exception, string connectionType, string? endpoint, string failureType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backplane link to Redis restored ({ConnectionType} connection to {Endpoint}); {Dropped} messages not sent so far")]
    private partial void LogLinkRestored(string connectionType, string? endpoint, long dropped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane: subscribing to Redis failed (attempt {Attempt}); retrying")]
    private partial void LogSubscribeFailed(Exception exception, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane: sending a batch of messages to Redis failed ({Failures} batches so far); other nodes fill them from the event log")]
    private partial void LogSendFailed(Exception exception, long failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "Backplane: handing on message {Seq} of job {JobId} from Redis failed")]
    private partial void LogReceiveFailed(Exception exception, Guid jobId, long seq);

    [LoggerMessage(Level = LogLevel.Error, Message = "Backplane: ignored a Redis message of {Length} bytes that is not a job message")]
    private partial void LogUndecodable(int length);
}

/// <summary><c>ConnectionStrings:Redis</c> (StackExchange.Redis configuration string).</summary>
internal sealed record RedisConnection(string ConnectionString);

/// <summary>Runs <see cref="RemoteJobStreams.SweepAsync"/> every <see cref="RealtimeOptions.BackplaneCatchUpInterval"/>.</summary>
internal sealed partial class RemoteJobSweepService(RemoteJobStreams remote, IOptions<RealtimeOptions> options, TimeProvider time, ILogger<RemoteJobSweepService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.BackplaneCatchUpInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await remote.SweepAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogSweepFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane: checking the mirrored jobs against the event log failed; next round in one interval")]
    private partial void LogSweepFailed(Exception exception);
}

/// <summary>
/// The highest <c>seq</c> of each job published through Redis, from the key the publish script raises with every batch
/// (<see cref="RedisLink.LastSeqKey"/>), read in the same step that closes the job (<see cref="RedisLink.ClosedKey"/>).
/// Unknown (<see cref="PublishedSeqsUnavailableException"/>) while Redis does not answer within <see cref="Timeout"/>.
/// </summary>
internal sealed class RedisPublishedSeqs(RedisLink link, TimeProvider time) : IPublishedSeqs
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<long> CloseAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var redis = link.Connection;
        if (redis is not { IsConnected: true })
        {
            throw new PublishedSeqsUnavailableException("Redis is not connected.");
        }

        try
        {
            var value = await RedisLink.CloseAsync(redis.GetDatabase(), jobId).WaitAsync(Timeout, time, cancellationToken);
            return value.IsNull ? 0 : (long)value;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new PublishedSeqsUnavailableException($"Redis did not answer which seq of job {jobId} was published last.", ex);
        }
    }
}
