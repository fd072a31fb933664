using System.Buffers.Text;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

using CleanRealtime.Bench.Wire;

namespace CleanRealtime.Bench.Driver;

/// <summary>How a <see cref="PeerClient"/> talks to its server.</summary>
internal enum PeerProtocol
{
    /// <summary>Plain WebSocket, one envelope per text message (the project and the plain Kestrel peer).</summary>
    WebSocket,

    /// <summary>
    /// ASP.NET Core SignalR's JSON hub protocol over WebSocket: handshake <c>{"protocol":"json","version":1}</c> + 0x1E, then
    /// 0x1E-terminated records; a frame is an invocation <c>{"type":1,"target":"frame","arguments":[envelope]}</c>.
    /// </summary>
    SignalR,
}

/// <summary>
/// The client of the <c>peers</c> scenario, one for all three servers: a <see cref="ClientWebSocket"/> and a receive loop
/// that counts the <c>frame</c> messages of the current step and records their latency from the same source on every
/// server: the envelope's <c>timestamp</c> (UTC, written by the server when it built the message) against
/// <see cref="DateTime.UtcNow"/> when the WebSocket message holding it was received (same machine, same clock).
/// </summary>
internal sealed class PeerClient : IAsyncDisposable
{
    private const byte RecordSeparator = 0x1E;
    private const int MaxMessageBytes = 1 << 22;
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] SignalRPing = Encoding.UTF8.GetBytes("{\"type\":6}\u001e");

    private readonly ClientWebSocket _socket;
    private readonly PeerProtocol _protocol;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _handshaken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[] _buffer = new byte[64 * 1024];
    private RunState? _run;
    private Task _receiving = Task.CompletedTask;
    private Task _keepAlive = Task.CompletedTask;

    private PeerClient(ClientWebSocket socket, PeerProtocol protocol)
    {
        _socket = socket;
        _protocol = protocol;
    }

    public static async Task<PeerClient> ConnectAsync(Uri uri, PeerProtocol protocol, CancellationToken cancellationToken)
    {
        var socket = await BenchClient.ConnectSocketAsync(uri, TimeSpan.FromSeconds(20), cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(20));
        var client = new PeerClient(socket, protocol);
        client._receiving = client.ReceiveAsync();
        if (protocol == PeerProtocol.SignalR)
        {
            await socket.SendAsync(Handshake, WebSocketMessageType.Text, endOfMessage: true, deadline.Token);
            await client._handshaken.Task.WaitAsync(deadline.Token);

            // SignalR closes a client that sends nothing for 30 s (ClientTimeoutInterval): a ping every 5 s, like its own client.
            client._keepAlive = client.KeepAliveAsync();
        }

        return client;
    }

    /// <summary>Starts counting the frames that arrive from now on (the driver waits for the previous step to go quiet first).</summary>
    public RunState BeginRun()
    {
        var state = new RunState(0);
        Volatile.Write(ref _run, state);
        return state;
    }

    public async ValueTask DisposeAsync()
    {
        await BenchClient.CloseHandshakeAsync(_socket, _receiving);

        try
        {
            await _stop.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The receive loop has already ended.
        }

        _socket.Abort();
        await _keepAlive.WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(_ => { }, TaskScheduler.Default);
        _socket.Dispose();
    }

    private async Task KeepAliveAsync()
    {
        try
        {
            var token = _stop.Token;
            while (!token.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), token);
                await _socket.SendAsync(SignalRPing, WebSocketMessageType.Text, endOfMessage: true, token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The connection is ending.
        }
    }

    private async Task ReceiveAsync()
    {
        var token = _stop.Token;
        var length = 0;
        try
        {
            while (true)
            {
                if (length == _buffer.Length)
                {
                    if (_buffer.Length >= MaxMessageBytes)
                    {
                        return;
                    }

                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }

                var result = await _socket.ReceiveAsync(_buffer.AsMemory(length), token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                length += result.Count;
                if (_protocol == PeerProtocol.WebSocket)
                {
                    if (result.EndOfMessage)
                    {
                        HandleEnvelope(_buffer.AsSpan(0, length), DateTime.UtcNow.Ticks, Stopwatch.GetTimestamp());
                        length = 0;
                    }
                }
                else
                {
                    // SignalR: any number of 0x1E-terminated records per WebSocket message, possibly one split over two.
                    length = HandleRecords(length);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // Closed, aborted or broken: the counts say what arrived.
        }
        finally
        {
            _handshaken.TrySetException(new WebSocketException("the connection closed before the SignalR handshake"));
            _stop.Dispose();
        }
    }

    /// <summary>Handles the complete records at the start of the buffer; moves the rest to the front; returns its length.</summary>
    private int HandleRecords(int length)
    {
        var data = _buffer.AsSpan(0, length);
        var wallTicks = DateTime.UtcNow.Ticks;
        var now = Stopwatch.GetTimestamp();
        var start = 0;
        int end;
        while ((end = data[start..].IndexOf(RecordSeparator)) >= 0)
        {
            var record = data.Slice(start, end);
            start += end + 1;
            if (!_handshaken.Task.IsCompleted)
            {
                // The handshake answer: {} or {"error":"..."}.
                if (record.IndexOf("\"error\""u8) >= 0)
                {
                    _handshaken.TrySetException(new WebSocketException($"SignalR handshake refused: {Encoding.UTF8.GetString(record)}"));
                }
                else
                {
                    _handshaken.TrySetResult();
                }

                continue;
            }

            if (record.StartsWith("{\"type\":1,"u8) && record.IndexOf("\"target\":\"frame\""u8) >= 0)
            {
                var at = record.IndexOf("\"arguments\":["u8);
                if (at >= 0)
                {
                    HandleEnvelope(record[(at + "\"arguments\":["u8.Length)..], wallTicks, now);
                }
            }
        }

        data[start..].CopyTo(_buffer);
        return length - start;
    }

    private void HandleEnvelope(ReadOnlySpan<byte> envelope, long wallTicks, long now)
    {
        if (!envelope.StartsWith("{\"type\":\"frame\""u8) || Volatile.Read(ref _run) is not { } state)
        {
            return;
        }

        var latencyMicroseconds = Envelope.TryReadTimestamp(envelope, out var sentTicks)
            ? Math.Max(0, (wallTicks - sentTicks) / TimeSpan.TicksPerMicrosecond)
            : -1;
        if (latencyMicroseconds >= 0)
        {
            state.Record(latencyMicroseconds, now, envelope.Length);
        }
        else
        {
            state.RecordUntimed(now, envelope.Length);
        }
    }

    /// <summary>Parses <c>yyyy-MM-ddTHH:mm:ss[.f…]Z</c> (the project writes 6 fraction digits, the peers 7).</summary>
    internal static bool TryParseUtcTicks(ReadOnlySpan<byte> text, out long ticks)
    {
        ticks = 0;
        if (text.Length < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':'
            || !Utf8Parser.TryParse(text[..4], out int year, out var a) || a != 4
            || !Utf8Parser.TryParse(text.Slice(5, 2), out int month, out var b) || b != 2
            || !Utf8Parser.TryParse(text.Slice(8, 2), out int day, out var c) || c != 2
            || !Utf8Parser.TryParse(text.Slice(11, 2), out int hour, out var d) || d != 2
            || !Utf8Parser.TryParse(text.Slice(14, 2), out int minute, out var e) || e != 2
            || !Utf8Parser.TryParse(text.Slice(17, 2), out int second, out var f) || f != 2
            || year is < 2000 or > 9000 || month is < 1 or > 12 || day is < 1 or > 31 || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        long fraction = 0;
        var i = 19;
        if (text[i] == '.')
        {
            var digits = 0;
            for (i++; i < text.Length && text[i] is >= (byte)'0' and <= (byte)'9'; i++, digits++)
            {
                if (digits < 7)
                {
                    fraction = (fraction * 10) + (text[i] - '0');
                }
            }

            for (; digits < 7; digits++)
            {
                fraction *= 10;
            }
        }

        if (i >= text.Length || text[i] != 'Z' || day > DateTime.DaysInMonth(year, month))
        {
            return false;
        }

        ticks = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).Ticks + fraction;
        return true;
    }
}
