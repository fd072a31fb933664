namespace CleanRealtime.Application.Realtime;

/// <summary>Configuration section <c>Realtime</c> (API.md §3–4).</summary>
public sealed class RealtimeOptions
{
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan PongTimeout { get; set; } = TimeSpan.FromSeconds(60);
    public int QueueCapacity { get; set; } = 1000;
    public int MaxConnections { get; set; } = 10_000;
    public int MaxConnectionsPerSession { get; set; } = 5;

    /// <summary>Open connections per client (its verified API key, else its address), whatever sessions it names.</summary>
    public int MaxConnectionsPerClient { get; set; } = 1000;

    /// <summary>The largest client message accepted; a larger one closes the connection with 1009.</summary>
    public int MaxClientMessageBytes { get; set; } = 4096;

    /// <summary>How long a closing connection may take to flush and hand over its close frame before it is aborted.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a job's messages are kept for replay after the job ends (<c>Realtime:ReplayRetention</c>).</summary>
    public TimeSpan ReplayRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often messages past their retention are purged.</summary>
    public TimeSpan ReplayPurgeInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The last messages of each running job kept in memory, so most resumes read no database.</summary>
    public int ReplayTailSize { get; set; } = 1024;

    /// <summary>Messages waiting for the event log's background writer; a publisher waits only when this many are pending.</summary>
    public int EventLogQueueCapacity { get; set; } = 16_384;

    /// <summary>
    /// How long the event log's writer retries a batch the store refuses (<c>Realtime:EventLogRetryFor</c>) before the
    /// messages are given up (counted, logged, and reported to the job's subscribers and to any replay over them).
    /// </summary>
    public TimeSpan EventLogRetryFor { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How many <c>seq</c>s a running job reserves in the store at a time (<c>Realtime:SeqReservationBlock</c>): its
    /// publisher waits on the store once per block, and the end of a job whose server was killed is numbered after the
    /// block (the <c>seq</c>s reserved but not stored are reported missing to a resume over them).
    /// </summary>
    public int SeqReservationBlock { get; set; } = 1024;

    /// <summary>Messages written to the event log per batch (and read per replay page).</summary>
    public int EventLogBatchSize { get; set; } = 500;

    /// <summary>
    /// How long the event log's writer waits for more messages when it woke up to fewer than a batch
    /// (<c>Realtime:EventLogBatchDelay</c>). A job publishes a message every few hundred µs while a write costs tens of
    /// µs: without the pause every message would be its own write. Live delivery never waits for the log.
    /// </summary>
    public TimeSpan EventLogBatchDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// <c>none</c> (one node, or live messages only on the node running the job) or <c>redis</c> (every node's
    /// subscribers get every job's messages through Redis; <c>ConnectionStrings:Redis</c>).
    /// </summary>
    public string Backplane { get; set; } = "none";

    public bool HasBackplane => !string.Equals(Backplane.Trim(), "none", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// How often a node checks the event log for the jobs it mirrors when Redis brought nothing new (a message lost at
    /// the end of a job, or Redis down), and how long it waits between reads of a gap the log does not hold yet.
    /// </summary>
    public TimeSpan BackplaneCatchUpInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a gap may wait for the event log before it is given up (logged as an error) and skipped.</summary>
    public TimeSpan BackplaneGapTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Messages waiting to be sent to Redis; when full the oldest is dropped (other nodes fill it from the log).</summary>
    public int BackplaneOutboxCapacity { get; set; } = 10_000;
}
