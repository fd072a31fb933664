using System.Net.WebSockets;
using System.Text;
using CleanRealtime.Api.Realtime;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.UnitTests.Api.Realtime;

public sealed class CoalescingStreamTests
{
    [Fact]
    public async Task WritesPassStraightThroughWhenNothingIsHeld()
    {
        var inner = new RecordingStream();
        await using var stream = new CoalescingStream(inner);

        await stream.WriteAsync("ab"u8.ToArray());
        await stream.FlushAsync();
        await stream.WriteAsync("cd"u8.ToArray());

        Assert.Equal(["ab", "cd"], inner.Writes);
        Assert.Equal(1, inner.Flushes);
    }

    [Fact]
    public async Task HeldWritesLeaveAsOneWriteAndOneFlushOnRelease()
    {
        var inner = new RecordingStream();
        await using var stream = new CoalescingStream(inner);

        stream.Hold();
        await stream.WriteAsync("ab"u8.ToArray());
        await stream.FlushAsync();
        await stream.WriteAsync("cd"u8.ToArray());
        await stream.WriteAsync("ef"u8.ToArray());
        Assert.Empty(inner.Writes);
        Assert.Equal(0, inner.Flushes);

        await stream.ReleaseAsync(CancellationToken.None);

        Assert.Equal(["abcdef"], inner.Writes);
        Assert.Equal(1, inner.Flushes);
        Assert.False(stream.IsHolding);

        // Nothing is left held: the next write goes out alone.
        await stream.WriteAsync("gh"u8.ToArray());
        Assert.Equal(["abcdef", "gh"], inner.Writes);
    }

    [Fact]
    public async Task ReleasingWithNothingHeldWritesNothing()
    {
        var inner = new RecordingStream();
        await using var stream = new CoalescingStream(inner);

        stream.Hold();
        await stream.ReleaseAsync(CancellationToken.None);

        Assert.Empty(inner.Writes);
        Assert.False(stream.IsHolding);
    }

    [Fact]
    public async Task ALongRunGoesOutInPiecesOfAtMostMaxHeldBytes()
    {
        var inner = new RecordingStream();
        await using var stream = new CoalescingStream(inner);
        var piece = new byte[CoalescingStream.MaxHeld / 4];

        stream.Hold();
        for (var i = 0; i < 5; i++)
        {
            piece.AsSpan().Fill((byte)('a' + i));
            await stream.WriteAsync(piece);
        }

        // Four pieces fill the bound; the fifth would exceed it, so the four went out first.
        Assert.Single(inner.Writes);
        Assert.Equal(CoalescingStream.MaxHeld, inner.Writes[0].Length);
        await stream.ReleaseAsync(CancellationToken.None);

        Assert.Equal(2, inner.Writes.Count);
        Assert.Equal(new string('e', piece.Length), inner.Writes[1]);
        Assert.Equal(string.Concat(Enumerable.Range(0, 5).Select(i => new string((char)('a' + i), piece.Length))), string.Concat(inner.Writes));
    }

    [Fact]
    public async Task AWriteLargerThanTheBoundFollowsTheHeldBytesInOrder()
    {
        var inner = new RecordingStream();
        await using var stream = new CoalescingStream(inner);
        var large = Enumerable.Repeat((byte)'x', CoalescingStream.MaxHeld + 1).ToArray();

        stream.Hold();
        await stream.WriteAsync("ab"u8.ToArray());
        await stream.WriteAsync(large);

        Assert.Equal(["ab", Encoding.ASCII.GetString(large)], inner.Writes);
    }

    [Fact]
    public async Task ARunOfMessagesReachesTheSocketInOneWriteAndDecodesInOrder()
    {
        var inner = new RecordingStream();
        var stream = new CoalescingStream(inner);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var transport = new WebSocketTransport(socket, stream);

        await transport.SendAsync(Message("one"), more: true, CancellationToken.None);
        await transport.SendAsync(Message("two"), more: true, CancellationToken.None);
        Assert.Empty(inner.Writes);
        await transport.SendAsync(Message("three"), more: false, CancellationToken.None);

        Assert.Single(inner.Writes);
        Assert.Equal(["one", "two", "three"], await DecodeAsync(inner.Bytes));
    }

    [Fact]
    public async Task ACloseSendsWhatARunCutShortLeftHeldBeforeTheCloseFrame()
    {
        var inner = new RecordingStream();
        var stream = new CoalescingStream(inner);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var transport = new WebSocketTransport(socket, stream);

        await transport.SendAsync(Message("held"), more: true, CancellationToken.None);
        await transport.CloseAsync(4002, "slow consumer", CancellationToken.None);

        Assert.Equal(["held", "close 4002 slow consumer"], await DecodeAsync(inner.Bytes));
    }

    [Fact]
    public async Task FlushWritesAHeldRunAndIsFreeWhenNothingIsHeld()
    {
        var inner = new RecordingStream();
        var stream = new CoalescingStream(inner);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var transport = new WebSocketTransport(socket, stream);

        await transport.FlushAsync(CancellationToken.None);
        Assert.Equal(0, inner.Flushes);

        await transport.SendAsync(Message("a"), more: true, CancellationToken.None);
        await transport.SendAsync(Message("b"), more: true, CancellationToken.None);
        await transport.FlushAsync(CancellationToken.None);

        Assert.Single(inner.Writes);
        Assert.Equal(["a", "b"], await DecodeAsync(inner.Bytes));
    }

    private static OutboundMessage Message(string text) => new(MessageType.Frame, Encoding.UTF8.GetBytes(text));

    /// <summary>Reads the recorded server bytes as a client would: each text message, then the close if there is one.</summary>
    private static async Task<List<string>> DecodeAsync(byte[] bytes)
    {
        using var client = WebSocket.CreateFromStream(
            new MemoryStream(bytes), new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        var received = new List<string>();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await client.ReceiveAsync(buffer, CancellationToken.None);
            }
            catch (WebSocketException)
            {
                return received; // the recorded bytes ended without a close
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                received.Add($"close {(int?)result.CloseStatus} {result.CloseStatusDescription}");
                return received;
            }

            received.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }
    }

    /// <summary>An inner stream that records each write as it arrives, and counts flushes.</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly List<byte[]> _writes = [];

        public List<string> Writes => _writes.Select(w => Encoding.ASCII.GetString(w)).ToList();

        public byte[] Bytes => _writes.SelectMany(w => w).ToArray();

        public int Flushes { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _writes.Add(buffer.ToArray());
            return ValueTask.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            return Task.CompletedTask;
        }

        public override void Flush() => Flushes++;

        public override int Read(byte[] buffer, int offset, int count) => 0;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _writes.Add(buffer.AsSpan(offset, count).ToArray());
    }
}
