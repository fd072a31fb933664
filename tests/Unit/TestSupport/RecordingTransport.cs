using System.Threading.Channels;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Api.Realtime;

namespace CleanRealtime.UnitTests.TestSupport;

/// <summary>
/// An <see cref="IRealtimeTransport"/> that keeps what the writer hands it, for tests about what reaches the
/// transport rather than the wire (shared bytes, transports without pongs, a transport that fails at once).
/// </summary>
internal sealed class RecordingTransport(bool supportsPong = true, Exception? failSendsWith = null) : IRealtimeTransport
{
    private readonly Channel<OutboundMessage> _sent = Channel.CreateUnbounded<OutboundMessage>();
    private int _sendAttempts;
    private int _closeCode;
    private int _aborted;

    public string Kind => "recording";

    public bool SupportsPong => supportsPong;

    public int SendAttempts => Volatile.Read(ref _sendAttempts);

    /// <summary>The close code the writer closed with, or 0.</summary>
    public int CloseCode => Volatile.Read(ref _closeCode);

    public bool Aborted => Volatile.Read(ref _aborted) != 0;

    public ValueTask SendAsync(OutboundMessage message, bool more, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _sendAttempts);
        if (failSendsWith is not null)
        {
            throw failSendsWith;
        }

        _sent.Writer.TryWrite(message);
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public Task CloseAsync(int code, string reason, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _closeCode, code);
        return Task.CompletedTask;
    }

    public void Abort() => Volatile.Write(ref _aborted, 1);

    public async Task<OutboundMessage> NextAsync()
    {
        using var deadline = new CancellationTokenSource(Eventually.DefaultTimeout);
        return await _sent.Reader.ReadAsync(deadline.Token);
    }

    public bool TryTake(out OutboundMessage message) => _sent.Reader.TryRead(out message);
}
