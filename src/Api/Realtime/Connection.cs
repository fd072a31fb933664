using System.Net.WebSockets;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Connections;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// One subscriber: its bounded queue, the single writer that drains it in order, and its heartbeat. Publishing only
/// enqueues; the writer is the only code that touches the transport, so sends and the close never overlap.
/// </summary>
/// <remarks>
/// A resuming subscriber (<see cref="Replay"/>) is registered before its history is read, so nothing published from
/// then on is missed: while the writer sends the history, live job messages are held aside; when the history is
/// exhausted the held ones with a greater <c>seq</c> follow and the connection goes live. No gap, no duplicate. The
/// held list is bounded by the queue capacity: when it overflows it is dropped and the writer reads on from the
/// history (which holds everything the held list did).
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The writer loop owns and disposes its resources when it ends.")]
public sealed partial class Connection : IRealtimeSubscriber
{
    private readonly IRealtimeTransport _transport;
    private readonly SessionContext _context;
    private readonly RealtimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OutboundQueue _queue;
    private readonly CancellationTokenSource _sendCancellation = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _heartbeat;
    private ITimer? _pongDeadline;
    private CloseRequest? _close;
    private long _sent;
    private long _pingAwaitingPong;
    private double _lastRoundTripMs = double.NaN;
    private readonly Replay? _replay;
    private readonly Lock _holdGate = new();
    private List<OutboundMessage>? _held;
    private bool _heldOverflowed;

    // The last seq the replay sent: a live message up to it may still arrive (the job's tail is written before the
    // fan-out runs) and is skipped. 0 for a connection that replays nothing (every seq is at least 1).
    private long _replayedUpTo;

    internal Connection(
        IRealtimeTransport transport, Guid? jobId, Guid? sessionId, string? client, SessionContext context, Replay? replay = null)
    {
        _replay = replay;
        _held = replay is null ? null : [];
        _transport = transport;
        _context = context;
        _options = context.Options;
        _time = context.Time;
        _logger = context.Logger;
        var time = context.Time;
        _queue = new OutboundQueue(_options.QueueCapacity);
        JobId = jobId;
        SessionId = sessionId;
        Client = client;
        ConnectedAt = time.GetUtcNow();

        // The welcome ping goes out with the connection, so its pong measures a round trip too.
        _pingAwaitingPong = time.GetTimestamp();
    }

    public Guid Id { get; } = Guid.NewGuid();

    /// <summary>The one job this connection follows, or null for every job.</summary>
    public Guid? JobId { get; }

    public Guid? SessionId { get; }

    /// <summary>Who opened it (the verified API key, else the client address): what per-client limits count by.</summary>
    public string? Client { get; }

    public string Kind => _transport.Kind;

    public DateTimeOffset ConnectedAt { get; }

    public long Sent => Interlocked.Read(ref _sent);

    public long Dropped => _queue.Dropped;

    public int QueueDepth => _queue.Count;

    /// <summary>Round-trip time measured by the last pong, in milliseconds.</summary>
    public double? LastRoundTripMs => double.IsNaN(Volatile.Read(ref _lastRoundTripMs)) ? null : Volatile.Read(ref _lastRoundTripMs);

    /// <summary>The close code this connection ended (or is ending) with, if it was closed by either side.</summary>
    public int? CloseCode => Volatile.Read(ref _close)?.Code;

    /// <summary>Completes when the writer has stopped and the connection is deregistered.</summary>
    public Task Completion => _completion.Task;

    public bool Enqueue(OutboundMessage message)
    {
        if (message.Seq is { } seq)
        {
            if (Volatile.Read(ref _held) is not null && TryHold(message))
            {
                return true;
            }

            if (seq <= Volatile.Read(ref _replayedUpTo))
            {
                return true;
            }
        }

        return EnqueueNow(message);
    }

    /// <summary>
    /// Completes when <paramref name="room"/> more messages fit in this connection's queue without dropping any, or when it
    /// is closing. Only for a producer that chooses to wait for its consumers (the benchmark's publisher); the fan-out
    /// never waits (API.md §3.5).
    /// </summary>
    public ValueTask WaitForRoomAsync(int room) => _queue.WaitForRoomAsync(room);

    /// <summary>
    /// Queues the welcome, before the connection can receive anything published. A job message in it (the snapshot's
    /// last published <c>progress</c>) may still be on its way through the fan-out: it is not sent twice.
    /// </summary>
    internal void Greet(IReadOnlyList<OutboundMessage> welcome)
    {
        foreach (var message in welcome)
        {
            EnqueueNow(message);
            if (message.Seq > Volatile.Read(ref _replayedUpTo))
            {
                Volatile.Write(ref _replayedUpTo, message.Seq.Value);
            }
        }
    }

    private bool TryHold(OutboundMessage message)
    {
        lock (_holdGate)
        {
            if (_held is null)
            {
                return false;
            }

            if (_held.Count >= _queue.Capacity)
            {
                // Everything held is in the history too: drop it all and let the writer read further there.
                _held.Clear();
                _heldOverflowed = true;
            }

            _held.Add(message);
            return true;
        }
    }

    /// <summary>
    /// The history is sent up to <paramref name="lastSeq"/>: queue the held messages after it and go live. False when
    /// the held list overflowed meanwhile (the history must be read further first).
    /// </summary>
    private bool TryGoLive(long lastSeq)
    {
        lock (_holdGate)
        {
            if (_heldOverflowed)
            {
                _heldOverflowed = false;
                _held!.RemoveAll(m => m.Seq <= lastSeq);
                return false;
            }

            foreach (var message in _held!)
            {
                if (message.Seq > lastSeq)
                {
                    EnqueueNow(message);
                }
            }

            Volatile.Write(ref _replayedUpTo, lastSeq);
            Volatile.Write(ref _held, null);
            return true;
        }
    }

    private bool EnqueueNow(OutboundMessage message)
    {
        var outcome = _queue.Enqueue(message);
        switch (outcome)
        {
            case EnqueueOutcome.Overflow:
                LogSlowConsumer(Id, _queue.Capacity);
                RequestClose(4002, "slow consumer: outbound queue full", drain: false);
                return false;
            case EnqueueOutcome.DroppedOldest or EnqueueOutcome.DroppedIncoming:
                LogDropped(Id, message.Type.ToWire(), _queue.Dropped);
                return outcome == EnqueueOutcome.DroppedOldest;
            default:
                return outcome == EnqueueOutcome.Enqueued;
        }
    }

    /// <summary>
    /// Ends the connection with a close code. The writer sends the close after the queued messages when
    /// <paramref name="drain"/> is set, else at once; a writer that cannot finish within the close timeout is aborted.
    /// </summary>
    public void RequestClose(int code, string reason, bool drain)
    {
        if (Interlocked.CompareExchange(ref _close, new CloseRequest(code, reason), null) is not null)
        {
            return;
        }

        LogClosing(Id, code, reason);
        _queue.Complete(discardPending: !drain);
        try
        {
            _sendCancellation.CancelAfter(_options.CloseTimeout);
        }
        catch (ObjectDisposedException)
        {
            // The writer already finished.
        }
    }

    /// <summary>The client is gone or the socket broke: stop without a handshake.</summary>
    public void Abort(string reason)
    {
        Interlocked.CompareExchange(ref _close, new CloseRequest(null, reason), null);
        _queue.Complete(discardPending: true);
        try
        {
            _sendCancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The writer already finished.
        }
    }

    /// <summary>
    /// A pong proves the client is alive (the pong deadline restarts) and answers the latest ping not answered yet: the
    /// round trip is measured from that ping, once. A pong that answers no ping (a client sending them unasked, or a
    /// second pong to the same ping) measures nothing, so a flood of pongs cannot report a round trip that never happened.
    /// </summary>
    public void RecordPong()
    {
        var now = _time.GetTimestamp();
        try
        {
            _pongDeadline?.Change(_options.PongTimeout, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // The connection is ending.
        }

        var pingAt = Interlocked.Exchange(ref _pingAwaitingPong, 0);
        if (pingAt == 0)
        {
            return;
        }

        Volatile.Write(ref _lastRoundTripMs, _time.GetElapsedTime(pingAt, now).TotalMilliseconds);
    }

    internal void Start()
    {
        // Timers exist before the writer runs, so a writer that ends at once still finds them to dispose.
        _heartbeat = _time.CreateTimer(_ => Beat(), null, _options.PingInterval, _options.PingInterval);
        if (_transport.SupportsPong)
        {
            _pongDeadline = _time.CreateTimer(_ => PongOverdue(), null, _options.PongTimeout, Timeout.InfiniteTimeSpan);
        }

        _ = Task.Run(WriteLoopAsync);
    }

    private void Beat()
    {
        Interlocked.Exchange(ref _pingAwaitingPong, _time.GetTimestamp());
        if (_context.Serialize(new PingPayload((int)Math.Ceiling(_options.PingInterval.TotalSeconds))) is { } ping)
        {
            Enqueue(ping);
        }
    }

    /// <summary>The pong deadline restarts with every pong; when it passes, the client is taken as gone.</summary>
    private void PongOverdue() => RequestClose(1001, $"no pong for {_options.PongTimeout.TotalSeconds:F0} s", drain: false);

    private async Task WriteLoopAsync()
    {
        var token = _sendCancellation.Token;
        try
        {
            if (_replay is { } replay)
            {
                await ReplayAsync(replay, token);
            }

            while (await _queue.WaitToReadAsync())
            {
                await SendQueuedAsync(token);
            }

            if (Volatile.Read(ref _close) is { Code: { } code } close)
            {
                await _transport.CloseAsync(code, close.Reason, token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException
                                       or InvalidOperationException)
        {
            LogBroken(Id, ex.GetType().Name, ex.Message);
            _transport.Abort();
        }
        catch (Exception ex)
        {
            // Not a transport failure: a defect. Logged in full; the connection still ends cleanly.
            LogWriterFailed(ex, Id);
            _transport.Abort();
        }
        finally
        {
            _heartbeat?.Dispose();
            _pongDeadline?.Dispose();
            _queue.Complete(discardPending: true);
            _context.Store.Remove(this);
            LogDisconnected(Id, CloseCode, Sent, Dropped, _context.Store.Count);
            _sendCancellation.Dispose();
            _completion.TrySetResult();
        }
    }

    /// <summary>
    /// Sends the messages waiting in the queue as one run (the transport writes them together); the run ends when the
    /// queue is empty. A close that discards the queue can cut a run short: the flush then ends it.
    /// </summary>
    private async Task SendQueuedAsync(CancellationToken token)
    {
        while (_queue.TryDequeue(out var message))
        {
            await _transport.SendAsync(message, more: _queue.Count > 0, token);
            Interlocked.Increment(ref _sent);
        }

        await _transport.FlushAsync(token);
    }

    /// <summary>
    /// Sends the welcome (queued first), then the history page by page, straight to the transport (a slow client slows
    /// the replay, not the server), then goes live.
    /// </summary>
    private async Task ReplayAsync(Replay replay, CancellationToken token)
    {
        await SendQueuedAsync(token);
        var last = replay.AfterSeq;
        while (Volatile.Read(ref _close) is null)
        {
            var page = await replay.ReadAsync(last, token);
            if (page.Count == 0)
            {
                if (TryGoLive(last))
                {
                    LogReplayed(Id, replay.AfterSeq, last);
                    if (replay.EndedByAsync is { } endedBy && await endedBy(last, token))
                    {
                        // The job had ended and the client now has its last message: nothing more will come.
                        RequestClose(1000, "the job has ended; its stream is complete", drain: true);
                    }

                    return;
                }

                continue;
            }

            for (var i = 0; i < page.Count; i++)
            {
                await _transport.SendAsync(page[i], more: i < page.Count - 1, token);
                Interlocked.Increment(ref _sent);
                last = page[i].Seq ?? last;
            }
        }
    }

    private sealed record CloseRequest(int? Code, string Reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Realtime connection {ConnectionId} closed (code {Code}); sent {Sent}, dropped {Dropped}; {Open} open")]
    private partial void LogDisconnected(Guid connectionId, int? code, long sent, long dropped, int open);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} replayed seq {From} to {To} and is live")]
    private partial void LogReplayed(Guid connectionId, long from, long to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} is a slow consumer: {Capacity} messages that cannot be dropped are waiting")]
    private partial void LogSlowConsumer(Guid connectionId, int capacity);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} dropped a {Type} message ({Dropped} dropped so far)")]
    private partial void LogDropped(Guid connectionId, string type, long dropped);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} closing with {Code}: {Reason}")]
    private partial void LogClosing(Guid connectionId, int code, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {ConnectionId} writer failed unexpectedly")]
    private partial void LogWriterFailed(Exception exception, Guid connectionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} broken ({Error}: {Message})")]
    private partial void LogBroken(Guid connectionId, string error, string message);
}

/// <summary>
/// Where a resuming connection's history comes from: the job's messages after <see cref="AfterSeq"/>, read a page at a
/// time by <see cref="ReadAsync"/> (an empty page: nothing more yet). <see cref="EndedByAsync"/>, when given, says whether
/// the job has ended with a message at or before a <c>seq</c>: a replay that has caught up with an ended job closes
/// (1000) after its last message instead of waiting for live messages that will never come.
/// </summary>
public sealed record Replay(
    long AfterSeq,
    Func<long, CancellationToken, Task<IReadOnlyList<OutboundMessage>>> ReadAsync,
    Func<long, CancellationToken, Task<bool>>? EndedByAsync = null);
