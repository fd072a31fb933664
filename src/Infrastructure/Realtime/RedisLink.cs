using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Infrastructure.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary><c>ConnectionStrings:Redis</c> (StackExchange.Redis configuration string).</summary>
internal sealed record RedisConnection(string ConnectionString);

/// <summary>
/// This node's link to Redis: one channel (<see cref="BackplaneScripts.Channel"/>) that every node publishes its job
/// messages to and subscribes to. Outgoing messages wait in a bounded outbox and are sent by the
/// <see cref="BackplaneSender"/> (the oldest dropped when it is full, or sent nowhere while Redis is down: the other
/// nodes fill what they miss from the event log); incoming ones from other nodes go to the
/// <see cref="RemoteJobStreams"/> in the order Redis delivers them (a node ignores its own). The link's failures and
/// returns are logged and reported to the mirrors, which catch up from the log.
/// </summary>
/// <remarks>
/// The connection's lifetime in one place: it connects (without waiting for Redis to answer), subscribes, runs the
/// sender, watches the connection's failures and returns, and closes on stop. What is sent and how it is encoded are
/// <see cref="BackplaneScripts"/>' and <see cref="BackplaneWireFormat"/>'s.
/// </remarks>
internal sealed partial class RedisLink : BackgroundService
{
    private readonly string _connectionString;
    private readonly BackplaneOutbox _outbox;
    private readonly BackplaneSender _sender;
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
        _sender = new BackplaneSender(outbox, metrics, logger);
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
            await _sender.RunAsync(_redis, stoppingToken);
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

    /// <summary>Subscribes once Redis answers (the multiplexer subscribes again by itself after every reconnect).</summary>
    private async Task<ChannelMessageQueue> SubscribeAsync(ISubscriber subscriber, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await subscriber.SubscribeAsync(BackplaneScripts.Channel);
            }
            catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException)
            {
                LogSubscribeFailed(ex, attempt);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, stoppingToken);
            }
        }
    }

    private void Receive(ChannelMessage received)
    {
        if (!BackplaneWireFormat.TryDecode(received.Message, out var message))
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
