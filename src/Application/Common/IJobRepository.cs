using CleanRealtime.Domain.Jobs;

namespace CleanRealtime.Application.Common;

public interface IJobRepository
{
    /// <summary>Stores a new job; <paramref name="submittedBy"/> names the client for the per-client queue cap.</summary>
    Task AddAsync(Job job, string? submittedBy, CancellationToken cancellationToken);

    /// <summary>How many stored jobs have each status (statuses without jobs may be missing).</summary>
    Task<IReadOnlyDictionary<JobStatus, int>> CountByStatusAsync(CancellationToken cancellationToken);

    /// <summary>Jobs waiting for a worker: all of them, or those one client submitted.</summary>
    Task<int> CountQueuedAsync(string? submittedBy, CancellationToken cancellationToken);

    /// <summary>
    /// Flags a cancel on the stored job, for the node that runs it (it reads the flag within a second); false when the
    /// job is unknown or already finished.
    /// </summary>
    Task<bool> RequestCancelAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Deletes finished jobs (and their frames) that ended before <paramref name="endedBefore"/>; how many.</summary>
    Task<int> DeleteFinishedAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken);

    Task<Job?> FindAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>A page of a job's frames in order (<paramref name="offset"/> 0-based), with their total; null for an unknown job.</summary>
    Task<FramePage?> ReadFramesAsync(Guid id, int offset, int limit, CancellationToken cancellationToken);

    /// <summary>One job's state without its frames (no frame rows are read).</summary>
    Task<JobMemento?> FindStateAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Stores a job's current state: its scalar fields, and the frames not stored yet.</summary>
    Task SaveAsync(JobMemento job, CancellationToken cancellationToken);

    /// <summary>Newest first, without frames. <paramref name="after"/> continues a previous page.</summary>
    Task<IReadOnlyList<JobMemento>> ListAsync(JobStatus? status, int limit, JobPageCursor? after, CancellationToken cancellationToken);

    /// <summary>Queued and running jobs, oldest first (what a restart must deal with).</summary>
    Task<IReadOnlyList<Job>> ListUnfinishedAsync(CancellationToken cancellationToken);
}

/// <summary>Where a page of the newest-first job list stopped.</summary>
public sealed record JobPageCursor(DateTimeOffset CreatedAt, Guid Id);

/// <summary>Some of a job's frames, in order, and how many frames the job has in all.</summary>
public sealed record FramePage(IReadOnlyList<FrameResult> Items, int Total);
