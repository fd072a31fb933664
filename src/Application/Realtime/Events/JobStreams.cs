using System.Collections.Concurrent;
using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Publishes job messages (API.md §3.8): gives each its <c>seq</c> (per job, from 1, gap-free), serializes it once,
/// keeps it in the job's in-memory tail, queues it for the event log, and hands the bytes to the fan-out. Every job
/// message is logged, subscribed or not. Messages the event log could not keep (<see cref="JobEventWriter.Lost"/>) are
/// announced on the job's live stream by a <c>warning</c> published before its next message. The only place that assigns
/// a <c>seq</c>: to a running job's messages here, and to the end of a job whose publisher is gone (<see cref="NumberEnd"/>).
/// Before a job's stream hands out a <c>seq</c> past its reservation it records the next block of
/// <see cref="RealtimeOptions.SeqReservationBlock"/> <c>seq</c>s (<see cref="ISeqReservations.ReserveAsync"/>), so the end of
/// a job whose server was killed is numbered after anything a subscriber may have seen: the publisher waits on the store
/// once per block, never per message.
/// </summary>
public sealed partial class JobStreams
{
    /// <summary>The <c>plugin</c> of a warning that comes from the server itself rather than from a plugin.</summary>
    public const string ServerWarningSource = "server";

    private readonly MessageSerializer serializer;
    private readonly JobEventWriter log;
    private readonly IRealtimeBroadcaster broadcaster;
    private readonly ISeqReservations reservations;
    private readonly ILogger<JobStreams> logger;

    // Runs of messages the log lost, per running job, not yet announced on its stream.
    private readonly ConcurrentDictionary<Guid, (long First, long Last)> _unannounced = new();

    // Jobs whose stream ended here lately: a node that ran a job never mirrors it from another (RemoteJobStreams).
    private const int RememberedEnded = 10_000;

    private readonly ConcurrentDictionary<Guid, JobStream> _streams = new();
    private readonly ConcurrentDictionary<Guid, byte> _endedHere = new();
    private readonly ConcurrentQueue<Guid> _endedOrder = new();
    private readonly int _tailSize;
    private readonly int _reservationBlock;

    public JobStreams(
        MessageSerializer serializer, JobEventWriter log, IRealtimeBroadcaster broadcaster, ISeqReservations reservations, IOptions<RealtimeOptions> options,
        ILogger<JobStreams> logger)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(options);
        this.serializer = serializer;
        this.log = log;
        this.broadcaster = broadcaster;
        this.reservations = reservations;
        this.logger = logger;
        _tailSize = Math.Max(1, options.Value.ReplayTailSize);
        _reservationBlock = Math.Max(1, options.Value.SeqReservationBlock);
        log.Lost += OnLost;
    }

    /// <summary>
    /// Publishes a message about a job. Only the job's runner publishes for a job, one message at a time, so the
    /// counter is the stream's own. <paramref name="endsJob"/> marks the job's last message.
    /// </summary>
    public async ValueTask PublishAsync(RealtimeMessage message, bool endsJob = false)
    {
        ArgumentNullException.ThrowIfNull(message);
        var jobId = message.Payload.RoutingJobId
                    ?? throw new ArgumentException("Only messages about a job are sequenced.", nameof(message));
        var stream = _streams.GetOrAdd(jobId, id => new JobStream(id, _tailSize));
        if (!_unannounced.IsEmpty && _unannounced.TryRemove(jobId, out var lost))
        {
            await AnnounceLostAsync(jobId, lost.First, lost.Last, message.Timestamp).ConfigureAwait(false);
        }

        if (stream.NextSeq > stream.ReservedThrough)
        {
            await ReserveAsync(stream).ConfigureAwait(false);
        }

        var sequenced = message with { Seq = stream.NextSeq };
        OutboundMessage outbound;
        try
        {
            outbound = serializer.ToOutbound(sequenced);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException or System.Text.Json.JsonException)
        {
            // Nothing numbered: the next message takes this seq, so the stream stays gap-free.
            LogUnserializable(ex, message.Type.ToWire(), jobId);
            return;
        }

        stream.Add(outbound, endsJob);
        await log.AppendAsync(new JobEvent(jobId, outbound.Seq!.Value, outbound.Type, outbound.Json, sequenced.Timestamp, endsJob))
            .ConfigureAwait(false);
        broadcaster.Publish(new PublishedMessage(sequenced, outbound, endsJob));
    }

    /// <summary>
    /// The end of a job whose publisher is gone, numbered after <paramref name="afterSeq"/> (the last <c>seq</c> anyone may
    /// have received) and serialized as stored: the last message ends the job. Nothing is kept or fanned out here; the
    /// caller writes the events to the log. Messages that fail their schema are left out, unnumbered.
    /// </summary>
    internal IReadOnlyList<JobEvent> NumberEnd(Guid jobId, long afterSeq, IReadOnlyList<RealtimeMessage> end)
    {
        ArgumentNullException.ThrowIfNull(end);
        var numbered = new List<JobEvent>(end.Count);
        for (var i = 0; i < end.Count; i++)
        {
            var sequenced = end[i] with { Seq = afterSeq + numbered.Count + 1 };
            numbered.Add(new JobEvent(
                jobId, sequenced.Seq!.Value, sequenced.Type, serializer.Serialize(sequenced), sequenced.Timestamp, EndsJob: i == end.Count - 1));
        }

        return numbered;
    }

    /// <summary>
    /// Records the job's next block of <c>seq</c>s before the first of them is published. When the store cannot record it
    /// (after its retries) the block is published anyway, logged as an error: a job goes on rather than stall on its store,
    /// and only a crash before the next block is recorded could then number its end within it.
    /// </summary>
    private async Task ReserveAsync(JobStream stream)
    {
        var through = stream.NextSeq - 1 + _reservationBlock;
        try
        {
            stream.ReservedThrough = await reservations.ReserveAsync(stream.JobId, through, CancellationToken.None).ConfigureAwait(false);
        }
        catch (PublishedSeqsUnavailableException ex)
        {
            LogUnreserved(ex, stream.JobId, stream.NextSeq, through);
            stream.ReservedThrough = through;
        }
    }

    /// <summary>The event log lost messages of a job: announced before the job's next message, if it still runs here.</summary>
    private void OnLost(Guid jobId, long first, long last)
    {
        if (_streams.ContainsKey(jobId))
        {
            _unannounced.AddOrUpdate(jobId, (first, last), (_, known) => (Math.Min(known.First, first), Math.Max(known.Last, last)));
        }
    }

    private ValueTask AnnounceLostAsync(Guid jobId, long first, long last, DateTimeOffset at)
    {
        var text = $"Messages {new SeqRange(first, last)} of this job could not be stored; a resume or GET /v1/jobs/{jobId}/events over them answers REPLAY_UNAVAILABLE.";
        return PublishAsync(new RealtimeMessage(new WarningPayload(ServerWarningSource, text, WarningSeverity.High, JobId: jobId), at));
    }

    /// <summary>The stream of a job that is publishing now.</summary>
    internal bool TryGet(Guid jobId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out JobStream? stream) =>
        _streams.TryGetValue(jobId, out stream);

    /// <summary>
    /// The job has published its last message: waits until all of it is in the event log, then forgets the stream
    /// (readers go to the log from now on).
    /// </summary>
    public async Task CompleteAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await log.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (_endedHere.TryAdd(jobId, 0))
        {
            _endedOrder.Enqueue(jobId);
            while (_endedOrder.Count > RememberedEnded && _endedOrder.TryDequeue(out var oldest))
            {
                _endedHere.TryRemove(oldest, out _);
            }
        }

        _streams.TryRemove(jobId, out _);
        _unannounced.TryRemove(jobId, out _);
    }

    /// <summary>Whether this node publishes the job's messages, or did until it ended lately.</summary>
    public bool PublishesHere(Guid jobId) => _streams.ContainsKey(jobId) || _endedHere.ContainsKey(jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: seq {From} to {To} could not be reserved in the store; published unreserved (a crash before the next reservation could number the job's end within them)")]
    private partial void LogUnreserved(Exception exception, Guid jobId, long from, long to);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped a {Type} message of job {JobId} that could not be serialized")]
    private partial void LogUnserializable(Exception exception, string type, Guid jobId);
}
