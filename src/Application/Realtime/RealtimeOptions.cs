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

    /// <summary>Messages written to the event log per batch (and read per replay page).</summary>
    public int EventLogBatchSize { get; set; } = 500;
}
