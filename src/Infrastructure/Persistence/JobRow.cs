namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>How a job is stored: one row, JSON columns for its small collections; frames in their own table.</summary>
public sealed class JobRow
{
    /// <summary>The job id as lowercase text, so it can break ties in the keyset of the newest-first list.</summary>
    public required string Id { get; set; }
    public required string Source { get; set; }
    public required string DeviceRequested { get; set; }
    public required string DeviceUsed { get; set; }
    public required string PluginsJson { get; set; }
    public required string Status { get; set; }
    public int? Progress { get; set; }
    public string? Error { get; set; }
    public long CreatedAtTicks { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }

    /// <summary><see cref="CompletedAt"/> as UTC ticks, comparable in SQL (what retention deletes by).</summary>
    public long? CompletedAtTicks { get; set; }

    /// <summary>Who submitted the job (a digest of the verified API key, else the client address): what per-client queue caps count.</summary>
    public string? SubmittedBy { get; set; }

    /// <summary>
    /// The job's turn among waiting jobs (fair scheduling, see <c>FairClaim</c>): one more than the later of the newest
    /// turn taken by a worker and its client's last unfinished job's turn, set when the job is stored. Workers claim
    /// the lowest turn first, so each client with jobs waiting gets one started per round.
    /// </summary>
    public long Turn { get; set; }

    /// <summary>
    /// The highest <c>seq</c> the job's publisher may have handed out: it reserves a block of them here before it
    /// publishes the first (<see cref="StoredPublishedSeqs"/>), so the end of a job whose server was killed is numbered
    /// after it (0 before its first message).
    /// </summary>
    public long SeqReservedTo { get; set; }

    /// <summary>The worker node holding the job (PostgreSQL queue), until its lease expires; null while nobody holds it.</summary>
    public string? LeaseOwner { get; set; }

    public long? LeaseExpiresAtTicks { get; set; }

    /// <summary>A cancel asked on any node; the node running the job reads it with every lease renewal.</summary>
    public bool CancelRequested { get; set; }

    public required string PluginTimingsJson { get; set; }
    public required string WarningsJson { get; set; }
}

public sealed class FrameRow
{
    public required string JobId { get; set; }
    public int Index { get; set; }
    public required string FrameId { get; set; }
    public double TimestampMs { get; set; }
    public required string ResultsJson { get; set; }
}
