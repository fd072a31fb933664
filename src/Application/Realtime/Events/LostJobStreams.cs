using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Ends the stream of a job whose runner is gone (the server stopped, or its worker's lease expired) the way a job's
/// stream ends: an <c>error</c> with <c>WORKER_LOST</c>, then progress 100 <c>failed</c>, so a resuming client learns how
/// the job ended. Numbered after the last <c>seq</c> anyone may have received: the last one its log kept, the last one its
/// publisher handed to the other nodes (<see cref="IPublishedSeqs"/>; the log lags that live feed, and a dead publisher's
/// last messages may never have been stored; it is closed on the backplane first, so nothing it still sends reaches
/// another node after that) and the last one this node's mirror of the job saw, whichever is highest.
/// A <c>seq</c> is never assigned twice; messages delivered live but never stored stay a hole in the log before the end,
/// which a resume over them is told about. The <c>seq</c>s themselves are assigned by <see cref="JobStreams.NumberEnd"/>.
/// </summary>
internal sealed partial class LostJobStreams(
    IJobEventLog log, IPublishedSeqs published, RemoteJobStreams remote, RealtimeMessages messages, JobStreams streams,
    LoggedFrames frames, ILogger<LostJobStreams> logger)
{
    /// <summary>
    /// The job as stored plus what only its log holds: the frames analysed after its last checkpoint (see
    /// <see cref="LoggedFrames"/>), so a lost job's <c>/frames</c> agree with its <c>/events</c>.
    /// </summary>
    public Task<Job> RestoreFramesAsync(JobMemento state, CancellationToken cancellationToken) => frames.RestoreAsync(state, cancellationToken);

    /// <summary>
    /// Appends the end after the last <c>seq</c> known anywhere; nothing when the log already holds the job's end (a reap
    /// that stored it but not the job's state is repeated). Throws <see cref="PublishedSeqsUnavailableException"/> when the
    /// backplane cannot say what was published: nothing is written then, so nothing can be numbered twice.
    /// </summary>
    public async Task EndAsync(Guid jobId, string reason, CancellationToken cancellationToken)
    {
        var range = await log.GetRangeAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (range is { Ended: true })
        {
            LogAlreadyEnded(jobId, range.LastSeq);
            return;
        }

        var stored = range?.LastSeq ?? 0;
        var sent = await published.CloseAsync(jobId, cancellationToken).ConfigureAwait(false);
        var last = Math.Max(stored, Math.Max(sent, remote.HighestSeen(jobId)));
        if (last > stored)
        {
            LogUnstored(jobId, stored + 1, last);
        }

        RealtimePayload[] end =
        [
            new ErrorPayload(reason, JobId: jobId, Details: new ErrorDetails(ErrorCodes.WorkerLost, reason)),
            new ProgressPayload(jobId, 100, JobStatus.Failed.ToWire()),
        ];
        var created = new List<RealtimeMessage>(end.Length);
        foreach (var payload in end)
        {
            if (messages.TryCreate(payload, out var message))
            {
                created.Add(message);
            }
        }

        var appended = streams.NumberEnd(jobId, last, created);
        await log.AppendAsync(appended, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its log already ends at seq {Seq}; no second end written")]
    private partial void LogAlreadyEnded(Guid jobId, long seq);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: seq {From} to {To} may have been published but were never stored (their worker is gone); its end follows them, a resume over them is told they are missing")]
    private partial void LogUnstored(Guid jobId, long from, long to);
}
