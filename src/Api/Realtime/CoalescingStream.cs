using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// The upgraded connection's byte stream under a WebSocket, able to hold the frames of a run of messages and write them
/// as one. <c>ManagedWebSocket</c> writes (and flushes) every frame on its own: one pipe write, two flushes and a socket
/// send scheduled per message, which cost more than the message. A connection's writer that has several messages
/// queued calls <see cref="Hold"/> before sending them and <see cref="ReleaseAsync"/> after the last, so they reach the
/// socket in one write. At most <see cref="MaxHeld"/> bytes are held: a longer run goes out in pieces of that size.
/// </summary>
/// <remarks>
/// Everything <c>ManagedWebSocket</c> writes passes through here in its order (it writes under its own send lock):
/// data frames, and also the pongs it answers client pings with and the close frame. A frame written while the writer
/// holds joins the held ones, so it still goes out in order, with the writer's next release. Releases and writes are
/// serialized by one gate, because a release comes from the writer while a pong may come from the receive loop.
/// </remarks>
public sealed class CoalescingStream(Stream inner) : Stream
{
    /// <summary>The most bytes held before they are written anyway: a latency bound for a long run of messages.</summary>
    public const int MaxHeld = 16 * 1024;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private byte[]? _held;
    private int _length;
    private volatile bool _holding;

    /// <summary>Whether frames are being held (since <see cref="Hold"/>, until <see cref="ReleaseAsync"/>).</summary>
    public bool IsHolding => _holding;

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Holds what is written from now on, until <see cref="ReleaseAsync"/>.</summary>
    public void Hold() => _holding = true;

    /// <summary>Stops holding and writes what was held, as one write, then flushes.</summary>
    public ValueTask ReleaseAsync(CancellationToken cancellationToken)
    {
        _holding = false;
        return new ValueTask(FlushAsync(cancellationToken));
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_length > 0 && (!_holding || _length + buffer.Length > MaxHeld))
            {
                await WriteHeldAsync(cancellationToken);
                if (!_holding)
                {
                    ReturnHeldBuffer();
                }
            }

            if (_holding && buffer.Length <= MaxHeld)
            {
                _held ??= ArrayPool<byte>.Shared.Rent(MaxHeld);
                buffer.Span.CopyTo(_held.AsSpan(_length));
                Volatile.Write(ref _length, _length + buffer.Length);
                return;
            }

            await inner.WriteAsync(buffer, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>While holding, a flush waits for the release (which flushes); otherwise it flushes at once.</summary>
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_holding)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_length > 0)
            {
                await WriteHeldAsync(cancellationToken);
                ReturnHeldBuffer();
            }

            await inner.FlushAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    /// <summary>WebSockets write asynchronously only; a synchronous write could not keep the held frames' order.</summary>
    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("The WebSocket stream is written asynchronously only.");

    public override void Flush() => throw new NotSupportedException("The WebSocket stream is flushed asynchronously only.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            ReturnHeldBuffer();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        ReturnHeldBuffer();
        await base.DisposeAsync();
    }

    private async ValueTask WriteHeldAsync(CancellationToken cancellationToken)
    {
        var length = _length;
        Volatile.Write(ref _length, 0);
        await inner.WriteAsync(_held.AsMemory(0, length), cancellationToken);
    }

    // The buffer goes back to the pool whenever nothing is held, so an idle connection keeps none. A disposal can meet a
    // write that is still pending only when the socket is aborted; the buffer then goes back once, and a later write
    // rents a new one.
    private void ReturnHeldBuffer()
    {
        if (Interlocked.Exchange(ref _held, null) is { } held)
        {
            ArrayPool<byte>.Shared.Return(held);
        }
    }
}

/// <summary>
/// Gives WebSocket upgrades a <see cref="CoalescingStream"/>: installed before <c>UseWebSockets</c>, it wraps the
/// stream Kestrel's upgrade returns, so <c>ManagedWebSocket</c> writes through it, and publishes it as a request
/// feature for the connection's <see cref="WebSocketTransport"/>.
/// </summary>
internal sealed class CoalescingUpgradeFeature(IHttpUpgradeFeature inner, HttpContext context) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    public async Task<Stream> UpgradeAsync()
    {
        var stream = new CoalescingStream(await inner.UpgradeAsync());
        context.Features.Set(stream);
        return stream;
    }

    /// <summary>The middleware: wraps the upgrade feature of every request that can be upgraded.</summary>
    public static Task InstallAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            context.Features.Set<IHttpUpgradeFeature>(new CoalescingUpgradeFeature(upgrade, context));
        }

        return next(context);
    }
}
