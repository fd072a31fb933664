using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// Opens and ends realtime sessions on this node (SignalR's HubConnectionHandler): a <see cref="Connection"/> per
/// client over its transport, admitted by the <see cref="ConnectionStore"/>, greeted first, then fed by the fan-out.
/// </summary>
/// <remarks>
/// A session owns its connection's life: it starts the heartbeat and the writer, hands the connection its pings already
/// serialized, and when the writer has ended, for whatever reason (a close, a broken transport, a defect), removes the
/// connection from the store in a <c>finally</c>, as HubConnectionHandler does. Sessions know the store below them;
/// nothing below calls back up.
/// </remarks>
public sealed partial class RealtimeSessions(
    IOptions<RealtimeOptions> options, ConnectionStore store, RealtimeMessages messages, MessageSerializer serializer, TimeProvider time,
    ILoggerFactory loggers)
{
    private readonly RealtimeOptions _options = options.Value;
    private readonly ILogger _logger = loggers.CreateLogger<RealtimeSessions>();

    public RealtimeOptions Options => _options;

    public int Count => store.Count;

    /// <summary>This node's sessions.</summary>
    public IReadOnlyList<Connection> Connections => store.Subscribers;

    /// <summary>
    /// Opens a session and starts its writer and heartbeat, or says why it is refused (4001). The
    /// <paramref name="welcome"/> messages are queued first, before the connection can receive anything published; with
    /// <paramref name="replay"/>, the job's history follows them before the live messages. <paramref name="client"/> (the
    /// verified API key, else the client address) is what the per-client limit counts.
    /// </summary>
    public Registration TryAdd(
        IRealtimeTransport transport, Guid? jobId, Guid? sessionId, IReadOnlyList<OutboundMessage>? welcome = null, string? client = null,
        Replay? replay = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var heartbeat = new Heartbeat(time, _options.PingInterval, transport.SupportsPong ? _options.PongTimeout : null);
        var connection = new Connection(transport, jobId, sessionId, client, new SessionContext(_options, time, _logger), heartbeat, replay);

        // Queued before the store can hand it anything published.
        connection.Greet(welcome ?? []);

        if (store.TryAdd(connection) is { } refusal)
        {
            heartbeat.Dispose();
            return Registration.Refused(4001, refusal);
        }

        // The timers exist before the writer runs, so a writer that ends at once still stops them.
        heartbeat.Start(
            ping: () => Ping(connection),
            pongOverdue: () => connection.RequestClose(1001, $"no pong for {_options.PongTimeout.TotalSeconds:F0} s", drain: false));
        _ = Task.Run(() => RunAsync(connection, heartbeat));
        LogConnected(connection.Id, connection.Kind, jobId, sessionId, store.Count);
        return Registration.Accepted(connection);
    }

    /// <summary>Sends one message to one connection only (answers to its input).</summary>
    public bool Send(Connection connection, RealtimePayload payload)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Serialize(payload) is { } outbound && connection.Enqueue(outbound);
    }

    /// <summary>Closes every session with <paramref name="code"/> after it has flushed, and waits for them (bounded).</summary>
    public async Task CloseAllAsync(int code, string reason)
    {
        var open = Connections;
        LogClosingAll(open.Count, code);
        foreach (var connection in open)
        {
            connection.RequestClose(code, reason, drain: true);
        }

        await Task.WhenAll(open.Select(c => c.Completion)).WaitAsync(_options.CloseTimeout + TimeSpan.FromSeconds(1));
    }

    /// <summary>
    /// Runs the connection's writer to its end, then, whatever ended it, stops its heartbeat and removes it from the store:
    /// the connection never removes itself.
    /// </summary>
    private async Task RunAsync(Connection connection, Heartbeat heartbeat)
    {
        try
        {
            await connection.RunAsync();
        }
        finally
        {
            heartbeat.Dispose();
            store.Remove(connection);
            LogDisconnected(connection.Id, connection.CloseCode, connection.Sent, connection.Dropped, store.Count);
            connection.Ended();
        }
    }

    /// <summary>A heartbeat's beat: a ping, stamped now, serialized here and queued on the connection as it is.</summary>
    private void Ping(Connection connection)
    {
        if (Serialize(new PingPayload((int)Math.Ceiling(_options.PingInterval.TotalSeconds))) is { } ping)
        {
            connection.Enqueue(ping);
        }
    }

    /// <summary>A message about no job for one session (ping, answers to input): checked, serialized; null if invalid.</summary>
    private OutboundMessage? Serialize(RealtimePayload payload)
    {
        if (!messages.TryCreate(payload, out var message))
        {
            return null;
        }

        try
        {
            return serializer.ToOutbound(message);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException or System.Text.Json.JsonException)
        {
            LogUnserializable(ex, message.Type.ToWire());
            return null;
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

/// <summary>What a connection is given by its session: its settings, its clock and the log it writes to.</summary>
internal sealed record SessionContext(RealtimeOptions Options, TimeProvider Time, ILogger Logger);

/// <summary>The answer to a connection attempt: the connection, or the close code and reason that refuse it.</summary>
public sealed record Registration(Connection? Connection, int RefusalCode, string? RefusalReason)
{
    public static Registration Accepted(Connection connection) => new(connection, 0, null);

    public static Registration Refused(int code, string reason) => new(null, code, reason);
}
