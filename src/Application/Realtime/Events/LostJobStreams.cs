using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Ends the stream of a job whose runner is gone (the server stopped, or its worker's lease expired) the way a job's
/// stream ends: an <c>error</c> with <c>WORKER_LOST</c>, then progress 100 <c>failed</c>, numbered after the last
/// message its log kept, so a resuming client learns how the job ended.
/// </summary>
public sealed class LostJobStreams(IJobEventLog log, RealtimeMessages messages, MessageSerializer serializer)
{
    public async Task EndAsync(Guid jobId, string reason, CancellationToken cancellationToken)
    {
        var last = (await log.GetRangeAsync(jobId, cancellationToken).ConfigureAwait(false))?.LastSeq ?? 0;
        RealtimePayload[] end =
        [
            new ErrorPayload(reason, JobId: jobId, Details: new ErrorDetails(ErrorCodes.WorkerLost, reason)),
            new ProgressPayload(jobId, 100, JobStatus.Failed.ToWire()),
        ];
        var appended = new List<JobEvent>(end.Length);
        foreach (var payload in end)
        {
            if (messages.TryCreate(payload, out var message))
            {
                var sequenced = message with { Seq = last + appended.Count + 1 };
                appended.Add(new JobEvent(
                    jobId, sequenced.Seq!.Value, sequenced.Type, serializer.Serialize(sequenced), sequenced.Timestamp,
                    EndsJob: payload is ProgressPayload));
            }
        }

        await log.AppendAsync(appended, cancellationToken).ConfigureAwait(false);
    }
}
