using System.Net.WebSockets;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.UnitTests.TestSupport;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>
/// The session removes its connection when the writer ends, whatever ended it (API.md §3.7: a broken socket is removed
/// without affecting other clients); the connection never removes itself.
/// </summary>
public sealed class SessionLifetimeTests
{
    public static TheoryData<Exception> TransportFaults => new()
    {
        new IOException("connection reset by peer"),
        new WebSocketException(WebSocketError.ConnectionClosedPrematurely),
    };

    [Theory]
    [MemberData(nameof(TransportFaults))]
    public async Task Session_WhenTheTransportFaults_RemovesTheConnectionAndKeepsTheOthers(Exception fault)
    {
        await using var harness = new RealtimeHarness();
        var healthy = new RecordingTransport();
        var stays = harness.Manager.TryAdd(healthy, null, null).Connection!;
        var broken = harness.Manager.TryAdd(new RecordingTransport(failSendsWith: fault), null, null, harness.Welcome(new PingPayload(30))).Connection!;

        await broken.Completion.WaitAsync(Eventually.DefaultTimeout);

        Assert.False(harness.IsConnected(broken.Id));
        Assert.True(harness.IsConnected(stays.Id));
        Assert.Equal(1, harness.Manager.Count);
        Assert.Contains(harness.Logs.Entries, e => e.Message.StartsWith($"Realtime connection {broken.Id} closed", StringComparison.Ordinal));
        stays.Abort("test finished");
    }

    [Fact]
    public async Task Session_WhenTheWriterFailsWithADefect_StillRemovesTheConnection()
    {
        await using var harness = new RealtimeHarness();
        var broken = harness.Manager.TryAdd(
            new RecordingTransport(failSendsWith: new NotSupportedException("a defect")), null, null, harness.Welcome(new PingPayload(30))).Connection!;

        await broken.Completion.WaitAsync(Eventually.DefaultTimeout);

        Assert.False(harness.IsConnected(broken.Id));
        Assert.Equal(0, harness.Manager.Count);
        Assert.Contains(harness.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Exception is NotSupportedException);
    }

    [Fact]
    public async Task Session_AfterItsConnectionEnded_NoPingIsQueuedAnyMore()
    {
        await using var harness = new RealtimeHarness();
        var transport = new RecordingTransport();
        var connection = harness.Manager.TryAdd(transport, null, null).Connection!;

        connection.Abort("client gone");
        await connection.Completion.WaitAsync(Eventually.DefaultTimeout);
        harness.Clock.Advance(harness.Options.PingInterval * 3);

        Assert.False(transport.TryTake(out _));
        Assert.Equal(0, harness.Manager.Count);
    }
}
