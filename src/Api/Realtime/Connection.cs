using System.Net.WebSockets;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// One subscriber: its bounded queue and the single writer that drains it in order. Publishing only enqueues; the writer
/// is the only code that touches the transport, so sends and the close never overlap.
/// </summary>
/// <remarks>
/// What is not about queue and writer lives beside it: the <see cref="ReplayGate"/> decides what happens to a live job
/// message while a resuming connection's history is sent, the <see cref="Heartbeat"/> times pings and pongs, and the
/// <see cref="RealtimeSessions"/> that opened the connection runs its writer, hands it its pings already serialized and
/// removes it from the <see cref="ConnectionStore"/> when the writer has ended. The connection calls nothing above it.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The writer loop owns and disposes its resources when it ends.")]
public sealed partial class Connection
{
    private readonly IRealtimeTransport _transport;
    private readonly RealtimeOptions _options;
    private readonly ILogger _logger;
    private readonly OutboundQueue _queue;
    private readonly ReplayGate _gate;
    private readonly Heartbeat _heartbeat;
    private readonly CancellationTokenSource _sendCancellation = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Replay? _replay;
    private CloseRequest? _close;
    private long _sent;

    internal Connection(
        IRealtimeTransport transport, Guid? jobId, Guid? sessionId, string? client, SessionContext context, Heartbeat heartbeat, Replay? replay = null)
    {
        _transport = transport;
        _options = context.Options;
        _logger = context.Logger;
        _heartbeat = heartbeat;
        _replay = replay;
        _queue = new OutboundQueue(_options.QueueCapacity);
        _gate = new ReplayGate(_options.QueueCapacity, holding: replay is not null);
        JobId = jobId;
        SessionId = sessionId;
        Client = client;
        ConnectedAt = context.Time.GetUtcNow();
    }

    public Guid Id { get; } = Guid.NewGuid();

    /// <summary>The one job this connection follows, or null for every job.</summary>
    public Guid? JobId { get; }

    public Guid? SessionId { get; }

    /// <summary>Who opened it (the verified API key, else the client address): what per-client limits count by.</summary>
    public string? Client { get; }

    public string Kind => _transport.Kind;

    public DateTimeOffset ConnectedAt { get; }

    /// <summary>Messages written to its transport so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Messages its queue dropped so far (API.md §3.5).</summary>
    public long Dropped => _queue.Dropped;

    /// <summary>Messages waiting in its outbound queue.</summary>
    public int QueueDepth => _queue.Count;

    /// <summary>Round-trip time measured by the last pong, in milliseconds.</summary>
    public double? LastRoundTripMs => _heartbeat.LastRoundTripMs;

    /// <summary>The close code this connection ended (or is ending) with, if it was closed by either side.</summary>
    public int? CloseCode => Volatile.Read(ref _close)?.Code;

    /// <summary>Completes when the writer has stopped and the session has removed the connection from the store.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Queues a message already serialized; never waits.</summary>
    public bool Enqueue(OutboundMessage message) =>
        _gate.Admit(message) switch
        {
            GateVerdict.Held or GateVerdict.AlreadySent => true,
            _ => EnqueueNow(message),
        };

    /// <summary>
    /// Completes when <paramref name="room"/> more messages fit in this connection's queue without dropping any, or when it
    /// is closing. Only for a producer that chooses to wait for its consumers (the benchmark's publisher); the fan-out
    /// never waits (API.md §3.5).
    /// </summary>
    internal ValueTask WaitForRoomAsync(int room) => _queue.WaitForRoomAsync(room);

    /// <summary>
    /// Queues the welcome, before the connection can receive anything published. A job message in it (the snapshot's
    /// last published <c>progress</c>) may still be on its way through the fan-out: it is not sent twice.
    /// </summary>
    internal void Greet(IReadOnlyList<OutboundMessage> welcome)
    {
        foreach (var message in welcome)
        {
            EnqueueNow(message);
            if (message.Seq is { } seq)
            {
                _gate.MarkSent(seq);
            }
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

    /// <summary>A pong from the client: the heartbeat restarts its deadline and measures the round trip (once per ping).</summary>
    public void RecordPong() => _heartbeat.RecordPong();

    /// <summary>
    /// The writer: the welcome and the replay, then the queue until it is completed, then the close. Never throws: a
    /// broken transport is aborted and logged. The session that runs it removes the connection when it returns.
    /// </summary>
    internal async Task RunAsync()
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
            _queue.Complete(discardPending: true);
            _sendCancellation.Dispose();
        }
    }

    /// <summary>Called by the session once it has removed the connection: <see cref="Completion"/> completes.</summary>
    internal void Ended() => _completion.TrySetResult();

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
                if (_gate.TryGoLive(last, m => EnqueueNow(m)))
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
