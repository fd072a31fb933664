using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.UnitTests.Application.TestDoubles;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.UnitTests.Application.Realtime;

public sealed class RealtimeMessagesTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero));
    private readonly RecordingLoggerProvider _logs = new();

    public void Dispose() => _logs.Dispose();

    private RealtimeMessages Create() => new(_time, _logs.CreateLogger<RealtimeMessages>());

    [Fact]
    public void TryCreate_ValidPayload_StampsItWithTheCurrentUtcTime()
    {
        _time.Advance(TimeSpan.FromTicks(1_234_567));
        var payload = new ProgressPayload(Guid.NewGuid(), 10, "analyzing");

        Assert.True(Create().TryCreate(payload, out var message));

        Assert.Same(payload, message.Payload);
        Assert.Equal(MessageType.Progress, message.Type);
        Assert.Equal(_time.GetUtcNow(), message.Timestamp);
        Assert.Equal(TimeSpan.Zero, message.Timestamp.Offset);
        Assert.Empty(_logs.Entries);
    }

    [Fact]
    public void TryCreate_PayloadFailingItsSchema_IsRefusedAndLoggedAsAnError()
    {
        Assert.False(Create().TryCreate(new ProgressPayload(Guid.NewGuid(), 150), out _));

        var entry = Assert.Single(_logs.Entries);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Contains("progress", entry.Message, StringComparison.Ordinal);
    }
}
