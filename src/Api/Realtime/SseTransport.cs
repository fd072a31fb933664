using System.Buffers;
using System.Buffers.Text;
using System.Text;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// Server-Sent Events: each message as <c>event: &lt;type&gt;</c>, <c>id: &lt;seq&gt;</c> (a message about a job, so that
/// <c>EventSource</c> resumes with <c>Last-Event-ID</c>) and <c>data: &lt;envelope json&gt;</c>.
/// </summary>
public sealed class SseTransport(HttpContext context) : IRealtimeTransport
{
    private static readonly byte[][] EventLines = Enum.GetValues<MessageType>()
        .Select(t => Encoding.UTF8.GetBytes($"event: {t.ToWire()}\n")).ToArray();

    public string Kind => "sse";

    // Envelope bytes written since the last flush (only the connection's single writer sends).
    private long _unflushed;

    public bool SupportsPong => false;

    public ValueTask SendAsync(OutboundMessage message, bool more, CancellationToken cancellationToken)
    {
        var body = context.Response.BodyWriter;
        body.Write(EventLines[(int)message.Type]);
        if (message.Seq is { } seq)
        {
            var line = body.GetSpan(32);
            "id: "u8.CopyTo(line);
            Utf8Formatter.TryFormat(seq, line[4..], out var written);
            line[4 + written] = (byte)'\n';
            body.Advance(5 + written);
        }

        body.Write("data: "u8);
        body.Write(message.Json);
        body.Write("\n\n"u8);

        // A run of messages is flushed once, at its end (or every CoalescingStream.MaxHeld bytes), like a WebSocket's.
        _unflushed += message.Json.Length;
        return more && _unflushed < CoalescingStream.MaxHeld ? ValueTask.CompletedTask : FlushAsync(cancellationToken);
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_unflushed == 0)
        {
            return;
        }

        _unflushed = 0;
        var flushed = await context.Response.BodyWriter.FlushAsync(cancellationToken);
        if (flushed.IsCanceled || flushed.IsCompleted)
        {
            throw new IOException("The event stream was closed by the client.");
        }
    }

    /// <summary>SSE has no close frame: the stream ends when the request does.</summary>
    public Task CloseAsync(int code, string reason, CancellationToken cancellationToken) => Task.CompletedTask;

    public void Abort() => context.Abort();
}
