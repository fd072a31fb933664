using System.Buffers;
using System.Text;
using CleanRealtime.Domain.Realtime;
using Microsoft.AspNetCore.Http;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>Server-Sent Events: each message as <c>event: &lt;type&gt;</c> and <c>data: &lt;envelope json&gt;</c>.</summary>
public sealed class SseTransport(HttpContext context) : IRealtimeTransport
{
    private static readonly byte[][] EventLines = Enum.GetValues<MessageType>()
        .Select(t => Encoding.UTF8.GetBytes($"event: {t.ToWire()}\ndata: ")).ToArray();

    public string Kind => "sse";

    public bool SupportsPong => false;

    public async ValueTask SendAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        var body = context.Response.BodyWriter;
        body.Write(EventLines[(int)message.Type]);
        body.Write(message.Json);
        body.Write("\n\n"u8);
        var flushed = await body.FlushAsync(cancellationToken);
        if (flushed.IsCanceled || flushed.IsCompleted)
        {
            throw new IOException("The event stream was closed by the client.");
        }
    }

    /// <summary>SSE has no close frame: the stream ends when the request does.</summary>
    public Task CloseAsync(int code, string reason, CancellationToken cancellationToken) => Task.CompletedTask;

    public void Abort() => context.Abort();
}
