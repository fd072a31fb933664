using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Jobs;

namespace CleanRealtime.Application.Jobs.Ending;

/// <summary>
/// The one way a job ends, whoever ends it (its runner, a cancel of a queued job, the lease reaper, recovery at start-up),
/// always in the same four steps: the domain change, the final messages, closing the stream, the store write. The stream
/// is complete in the event log before the final state is stored, so a stored finished job is always fully replayable.
/// </summary>
internal sealed class JobEnding(
    LiveJobs live,
    JobEvents events,
    JobStreams streams,
    LostJobStreams lostStreams,
    JobCheckpointer checkpointer,
    IJobRepository repository,
    TimeProvider time)
{
    /// <summary>The end of a job its runner runs on this node: the live job is the one changed and stored, then forgotten.</summary>
    public Task EndRunAsync(Guid jobId, JobStatus status, string? error) =>
        EndHereAsync(null, new JobFinished(jobId, status, error, time.GetUtcNow()), CancellationToken.None);

    /// <summary>
    /// A queued job, cancelled before any runner took it: its subscribers learn it ended as they would for a running one
    /// (progress 100, stage cancelled). Returns the job as stored.
    /// </summary>
    public async Task<JobMemento> CancelQueuedAsync(JobMemento state, CancellationToken cancellationToken)
    {
        var job = Job.Restore(state);
        await EndHereAsync(job, new JobFinished(job.Id, JobStatus.Cancelled, null, time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        return job.ToMemento();
    }

    /// <summary>
    /// A running job whose runner is gone (its worker's lease expired, or the server stopped), given by its stored
    /// <paramref name="state"/>: the frames only its event log holds (analysed after its last checkpoint) are added to it
    /// (<see cref="LoggedFrames"/>), it is failed with <paramref name="error"/>, its stream ended by
    /// <see cref="LostJobStreams"/> after the last <c>seq</c> anyone may have received (<paramref name="reason"/> is what its
    /// subscribers read), then stored. Throws <see cref="PublishedSeqsUnavailableException"/>, having written nothing, when
    /// the backplane cannot say what was published.
    /// </summary>
    public async Task EndLostAsync(JobMemento state, string error, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        var job = await lostStreams.RestoreFramesAsync(state, cancellationToken).ConfigureAwait(false);
        job.Fail(error, time.GetUtcNow());
        await lostStreams.EndAsync(job.Id, reason, cancellationToken).ConfigureAwait(false);
        await repository.SaveAsync(job.ToMemento(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The domain change an end makes: completed, cancelled or failed, at its time.</summary>
    public static void Settle(Job job, JobFinished end)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(end);
        switch (end.Status)
        {
            case JobStatus.Completed:
                job.Complete(end.At);
                break;
            case JobStatus.Cancelled:
                job.Cancel(end.At);
                break;
            case JobStatus.Failed:
                job.Fail(end.Error ?? "failed", end.At);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(end), end.Status, "A job finishes completed, cancelled or failed.");
        }
    }

    /// <summary>
    /// A job whose stream this node publishes. <paramref name="stored"/>: the aggregate when the job does not run here
    /// (changed here); null for the live job, which the projection changes as the end is published.
    /// </summary>
    private async Task EndHereAsync(Job? stored, JobFinished end, CancellationToken cancellationToken)
    {
        if (stored is not null)
        {
            Settle(stored, end);
        }

        await events.PublishAsync(end).ConfigureAwait(false);
        await streams.CompleteAsync(end.JobId, CancellationToken.None).ConfigureAwait(false);
        if (stored is not null)
        {
            await checkpointer.SaveNowAsync(stored.ToMemento(), cancellationToken).ConfigureAwait(false);
        }
        else if (live.TryGet(end.JobId, out var job) && await checkpointer.SaveNowAsync(job.Snapshot(), CancellationToken.None).ConfigureAwait(false))
        {
            // Readers switch to the repository only once the final state is stored there.
            live.End(end.JobId);
        }
    }
}
