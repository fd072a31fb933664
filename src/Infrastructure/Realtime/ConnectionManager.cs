using System.Collections.Concurrent;
using System.Collections.Immutable;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// Registers realtime connections and fans messages out to them. <see cref="Publish"/> takes a message serialized once
/// and enqueues the same bytes on each subscribed connection's queue; it never waits for a socket.
/// </summary>
public sealed partial class ConnectionManager(
    IOptions<RealtimeOptions> options, MessageSerializer serializer, RealtimeMessages messages, TimeProvider time, ILoggerFactory loggers)
    : IRealtimeBroadcaster
{
    private readonly RealtimeOptions _options = options.Value;
    private readonly ILogger _logger = loggers.CreateLogger<ConnectionManager>();
    private readonly ConcurrentDictionary<Guid, Connection> _connections = new();
    private readonly Dictionary<Guid, int> _perSession = [];
    private readonly Dictionary<string, int> _perClient = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    // Copy-on-write subscriber sets: changed under the lock, one entry at a time; read without a lock by Publish.
    private Connection[] _everyone = [];
    private Connection[] _allJobs = [];
    private ImmutableDictionary<Guid, Connection[]> _byJob = ImmutableDictionary<Guid, Connection[]>.Empty;

    public int Count => _connections.Count;

    public RealtimeOptions Options => _options;

    public bool IsConnected(Guid connectionId) => _connections.ContainsKey(connectionId);

    /// <summary>
    /// Registers a connection and starts its writer and heartbeat, or says why it is refused (4001). The
    /// <paramref name="welcome"/> messages are queued first, before the connection can receive anything published; with
    /// <paramref name="replay"/>, the job's history follows them before the live messages. <paramref name="client"/> (the
    /// verified API key, else the client address) is what the per-client limit counts.
    /// </summary>
    public Registration TryAdd(
        IRealtimeTransport transport, Guid? jobId, Guid? sessionId, IReadOnlyList<OutboundMessage>? welcome = null, string? client = null,
        Replay? replay = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        Connection connection;
        var greeting = welcome ?? [];
        lock (_gate)
        {
            if (_connections.Count >= _options.MaxConnections)
            {
                return Registration.Refused(4001, $"capacity exceeded: the server takes {_options.MaxConnections} connections");
            }

            if (sessionId is { } session && _perSession.GetValueOrDefault(session) >= _options.MaxConnectionsPerSession)
            {
                return Registration.Refused(4001, $"capacity exceeded: a session may open {_options.MaxConnectionsPerSession} connections");
            }

            if (client is not null && _perClient.GetValueOrDefault(client) >= _options.MaxConnectionsPerClient)
            {
                return Registration.Refused(4001, $"capacity exceeded: a client may open {_options.MaxConnectionsPerClient} connections");
            }

            connection = new Connection(transport, jobId, sessionId, client, this, _options, time, _logger, replay);
            foreach (var outbound in greeting)
            {
                connection.Enqueue(outbound);
            }

            _connections[connection.Id] = connection;
            if (sessionId is { } s)
            {
                _perSession[s] = _perSession.GetValueOrDefault(s) + 1;
            }

            if (client is not null)
            {
                _perClient[client] = _perClient.GetValueOrDefault(client) + 1;
            }

            Volatile.Write(ref _everyone, [.. _everyone, connection]);
            if (jobId is { } job)
            {
                Volatile.Write(ref _byJob, _byJob.SetItem(job, [.. _byJob.GetValueOrDefault(job, []), connection]));
            }
            else
            {
                Volatile.Write(ref _allJobs, [.. _allJobs, connection]);
            }
        }

        connection.Start();
        LogConnected(connection.Id, connection.Kind, jobId, sessionId, _connections.Count);
        return Registration.Accepted(connection);
    }

    public void Publish(PublishedMessage message)
    {
        var job = message.JobId;
        var everyone = Volatile.Read(ref _everyone);
        var primary = job is null ? everyone : Volatile.Read(ref _allJobs);
        var followers = job is { } id && Volatile.Read(ref _byJob).TryGetValue(id, out var f) ? f : [];
        if (primary.Length == 0 && followers.Length == 0)
        {
            return;
        }

        var outbound = message.Outbound;
        foreach (var connection in primary)
        {
            connection.Enqueue(outbound);
        }

        foreach (var connection in followers)
        {
            connection.Enqueue(outbound);
        }
    }

    public bool HasSubscribers(Guid? jobId) =>
        jobId is { } id
            ? Volatile.Read(ref _allJobs).Length > 0 || Volatile.Read(ref _byJob).ContainsKey(id)
            : Volatile.Read(ref _everyone).Length > 0;

    /// <summary>Sends one message to one connection only (what a client gets on connect, and answers to its input).</summary>
    public bool Send(Connection connection, RealtimePayload payload)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return messages.TryCreate(payload, out var message) && TrySerialize(message, out var outbound) && connection.Enqueue(outbound);
    }

    public IReadOnlyList<Connection> Connections => [.. _connections.Values];

    /// <summary>Closes every connection with <paramref name="code"/> after it has flushed, and waits for them (bounded).</summary>
    public async Task CloseAllAsync(int code, string reason)
    {
        var open = _connections.Values.ToList();
        LogClosingAll(open.Count, code);
        foreach (var connection in open)
        {
            connection.RequestClose(code, reason, drain: true);
        }

        await Task.WhenAll(open.Select(c => c.Completion)).WaitAsync(_options.CloseTimeout + TimeSpan.FromSeconds(1));
    }

    internal void SendPing(Connection connection) =>
        Send(connection, new PingPayload((int)Math.Ceiling(_options.PingInterval.TotalSeconds)));

    internal void Remove(Connection connection)
    {
        lock (_gate)
        {
            if (!_connections.TryRemove(connection.Id, out _))
            {
                return;
            }

            if (connection.SessionId is { } s)
            {
                Release(_perSession, s);
            }

            if (connection.Client is { } c)
            {
                Release(_perClient, c);
            }

            Volatile.Write(ref _everyone, Without(_everyone, connection));
            if (connection.JobId is { } job)
            {
                var rest = Without(_byJob.GetValueOrDefault(job, []), connection);
                Volatile.Write(ref _byJob, rest.Length == 0 ? _byJob.Remove(job) : _byJob.SetItem(job, rest));
            }
            else
            {
                Volatile.Write(ref _allJobs, Without(_allJobs, connection));
            }
        }

        LogDisconnected(connection.Id, connection.CloseCode, connection.Sent, connection.Dropped, _connections.Count);
    }

    private static void Release<TKey>(Dictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        var left = counts[key] - 1;
        if (left == 0)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = left;
        }
    }

    private static Connection[] Without(Connection[] connections, Connection removed) =>
        Array.FindAll(connections, c => !ReferenceEquals(c, removed));

    private bool TrySerialize(RealtimeMessage message, out OutboundMessage outbound)
    {
        try
        {
            outbound = new OutboundMessage(message.Type, serializer.Serialize(message));
            return true;
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException
                                       or System.Text.Json.JsonException)
        {
            LogUnserializable(ex, message.Type.ToWire());
            outbound = default;
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Realtime {Kind} connection {ConnectionId} opened (job {JobId}, session {SessionId}); {Open} open")]
    private partial void LogConnected(Guid connectionId, string kind, Guid? jobId, Guid? sessionId, int open);

    [LoggerMessage(Level = LogLevel.Information, Message = "Realtime connection {ConnectionId} closed (code {Code}); sent {Sent}, dropped {Dropped}; {Open} open")]
    private partial void LogDisconnected(Guid connectionId, int? code, long sent, long dropped, int open);

    [LoggerMessage(Level = LogLevel.Information, Message = "Closing {Count} realtime connections with {Code}")]
    private partial void LogClosingAll(int count, int code);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped a {Type} message that could not be serialized")]
    private partial void LogUnserializable(Exception exception, string type);
}

/// <summary>The answer to a connection attempt: the connection, or the close code and reason that refuse it.</summary>
public sealed record Registration(Connection? Connection, int RefusalCode, string? RefusalReason)
{
    public static Registration Accepted(Connection connection) => new(connection, 0, null);

    public static Registration Refused(int code, string reason) => new(null, code, reason);
}
