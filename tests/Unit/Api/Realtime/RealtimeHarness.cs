using System.Net.WebSockets;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;
using CleanRealtime.UnitTests.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>
/// A <see cref="RealtimeSessions"/> on a <see cref="FakeTimeProvider"/> whose clients are real WebSockets in memory:
/// each connection has a <see cref="WebSocketTransport"/> on the server side of a <see cref="WebSocketPair"/> and a
/// <see cref="WebSocketReceiver"/> reading it, as the endpoint wires them.
/// </summary>
internal sealed class RealtimeHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Epoch = new(2025, 3, 14, 9, 26, 53, TimeSpan.Zero);

    private readonly List<TestClient> _clients = [];
    private readonly List<Task> _sessions = [];
    private readonly List<WebSocketPair> _refused = [];

    public RealtimeHarness(Action<RealtimeOptions>? configure = null, TimeProvider? time = null)
    {
        configure?.Invoke(Options);
        Time = time ?? Clock;
        Messages = new RealtimeMessages(Time, NullLogger<RealtimeMessages>.Instance);
        var options = Microsoft.Extensions.Options.Options.Create(Options);
        Store = new ConnectionStore(options, new Microsoft.Extensions.Logging.Logger<ConnectionStore>(Logs));
        FanOut = new LocalFanOut(Store);
        Manager = new RealtimeSessions(options, Store, Messages, Serializer, Time, Logs);
    }

    /// <summary>The store the sessions register with.</summary>
    public ConnectionStore Store { get; }

    /// <summary>The fan-out over <see cref="Store"/>: what the server publishes through.</summary>
    public LocalFanOut FanOut { get; }

    public FakeTimeProvider Clock { get; } = new(Epoch);

    public TimeProvider Time { get; }

    public RealtimeOptions Options { get; } = new();

    public RecordingLoggerFactory Logs { get; } = new();

    public RealtimeMessages Messages { get; }

    public RealtimeSessions Manager { get; }

    /// <summary>Whether the sessions still hold the connection with this id (what <see cref="RealtimeSessions.Connections"/> lists).</summary>
    public bool IsConnected(Guid connectionId) => Manager.Connections.Any(c => c.Id == connectionId);

    public RealtimeMessage Message(RealtimePayload payload)
    {
        Assert.True(Messages.TryCreate(payload, out var message), $"test payload {payload} should be valid");
        return message;
    }

    public MessageSerializer Serializer { get; } = new();

    /// <summary>Publishes a message the way the server does: checked, serialized once, handed to the fan-out.</summary>
    public void Publish(RealtimePayload payload)
    {
        var message = Message(payload);
        FanOut.Publish(new PublishedMessage(message, Serializer.ToOutbound(message)));
    }

    /// <summary>Welcome messages as the subscribe use case hands them over: checked and serialized.</summary>
    public IReadOnlyList<OutboundMessage> Welcome(params RealtimePayload[] payloads) =>
        [.. payloads.Select(p => Serializer.ToOutbound(Message(p)))];

    /// <summary>Connects a WebSocket client; it must be accepted.</summary>
    public TestClient Connect(
        Guid? jobId = null, Guid? sessionId = null, IEnumerable<RealtimePayload>? welcome = null, int clientReceiveWindow = int.MaxValue,
        string? client = null)
    {
        var (registration, connected) = TryConnect(jobId, sessionId, welcome, clientReceiveWindow, client);
        Assert.True(connected is not null, $"the connection should be accepted, was refused with {registration.RefusalCode}: {registration.RefusalReason}");
        return connected;
    }

    /// <summary>Asks the manager to take a WebSocket client; the client is null when refused.</summary>
    public (Registration Registration, TestClient? Client) TryConnect(
        Guid? jobId = null, Guid? sessionId = null, IEnumerable<RealtimePayload>? welcome = null, int clientReceiveWindow = int.MaxValue,
        string? client = null)
    {
        var pair = WebSocketPair.Create(clientReceiveWindow);
        var registration = Manager.TryAdd(new WebSocketTransport(pair.Server, pair.ServerStream), jobId, sessionId, welcome is null ? null : Welcome([.. welcome]), client);
        if (registration.Connection is not { } connection)
        {
            _refused.Add(pair);
            return (registration, null);
        }

        var receiving = WebSocketReceiver.RunAsync(Manager, connection, pair.Server, CancellationToken.None);
        var connected = new TestClient(pair, connection, receiving);
        _clients.Add(connected);
        _sessions.Add(EndLikeTheEndpointAsync(connection, receiving, pair.Server, Options.CloseTimeout));
        return (registration, connected);
    }

    /// <summary>
    /// What the endpoint does once a connection has ended: give the client the close timeout to answer the close, then
    /// let the socket go (the client sees the connection end, as it would when the server drops TCP).
    /// </summary>
    private static async Task EndLikeTheEndpointAsync(Connection connection, Task receiving, WebSocket socket, TimeSpan closeTimeout)
    {
        await connection.Completion;
        try
        {
            await receiving.WaitAsync(closeTimeout);
        }
        catch (TimeoutException)
        {
            socket.Abort();
        }
        finally
        {
            socket.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Connection.Abort("test finished");
            client.Pair.Dispose();
        }

        foreach (var pair in _refused)
        {
            pair.Dispose();
        }

        try
        {
            await Task.WhenAll(_clients.SelectMany(c => new[] { c.Connection.Completion, c.Receiving }).Concat(_sessions))
                .WaitAsync(Eventually.DefaultTimeout);
        }
        catch (Exception ex) when (ex is TimeoutException or WebSocketException or IOException or ObjectDisposedException)
        {
            // Clean-up only: the assertions of the test have already run.
        }
    }
}
