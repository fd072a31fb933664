namespace CleanRealtime.Infrastructure.Events;

/// <summary>One message of a job's stream, as sent: the envelope's UTF-8 bytes, keyed by job and <c>seq</c>.</summary>
public sealed class JobEventRow
{
    public required string JobId { get; set; }
    public long Seq { get; set; }
    public required string Type { get; set; }
    public required byte[] Json { get; set; }
    public long CreatedAtTicks { get; set; }

    /// <summary>The job's last message; the time its job ended is this row's <see cref="CreatedAtTicks"/>.</summary>
    public bool EndsJob { get; set; }
}
