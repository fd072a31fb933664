using System.Buffers.Binary;
using System.Text;
using System.Threading.Channels;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Execution;
using CleanRealtime.Infrastructure.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// The fan-out with <c>Realtime:Backplane=redis</c> (SignalR's RedisHubLifetimeManager): a message published here goes
/// to this node's subscribers through <see cref="LocalFanOut"/> and is queued for the other nodes; the publisher never
/// waits for Redis.
/// </summary>
internal sealed class RedisBackplane(LocalFanOut local, BackplaneOutbox outbox) : IRealtimeBroadcaster
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

    public void CountSent() => _metrics.BackplaneSent.Inc();

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
internal sealed partial class RedisLink : BackgroundService
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("cleanrealtime:job-messages");

    private readonly string _connectionString;
    private readonly BackplaneOutbox _outbox;
    private readonly RemoteJobStreams _remote;
    private readonly ServerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisLink> _logger;
    private ConnectionMultiplexer? _redis;

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
            await SendAsync(subscriber, stoppingToken);
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

    /// <summary>Drains the outbox: fire-and-forget publishes while the link is up; while it is down the messages are dropped.</summary>
    private async Task SendAsync(ISubscriber subscriber, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var message in _outbox.Reader.ReadAllAsync(stoppingToken))
            {
                if (_redis!.IsConnected)
                {
                    await subscriber.PublishAsync(Channel, Encode(message), CommandFlags.FireAndForget);
                    _outbox.CountSent();
                }
                else
                {
                    _outbox.CountDropped(message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is still queued is in the event log.
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
