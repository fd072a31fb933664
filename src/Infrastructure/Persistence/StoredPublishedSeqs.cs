using System.Globalization;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>
/// Without a backplane, the high-water mark of each job's published <c>seq</c>s is the block its publisher reserved in the
/// job's row (<see cref="JobRow.SeqReservedTo"/>) before it published the first of them: it survives a kill -9, and the
/// publisher waits on the store once per block (<see cref="RealtimeOptions.SeqReservationBlock"/>), never per message.
/// A reservation the store refuses is retried with a pause doubling from 100 ms to 5 s for
/// <see cref="RealtimeOptions.EventLogRetryFor"/> while the store is unavailable (<see cref="StoreFailures"/>).
/// </summary>
internal sealed partial class StoredPublishedSeqs(
    IDbContextFactory<JobsDbContext> contexts, IOptions<RealtimeOptions> options, TimeProvider time, ILogger<StoredPublishedSeqs> logger)
    : IPublishedSeqs, ISeqReservations
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(5);

    public async Task<long> ReserveAsync(Guid jobId, long throughSeq, CancellationToken cancellationToken)
    {
        var key = Key(jobId);
        var started = time.GetUtcNow();
        var pause = FirstPause;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var db = await contexts.CreateDbContextAsync(cancellationToken);
                await db.Jobs.Where(j => j.Id == key && j.SeqReservedTo < throughSeq)
                    .ExecuteUpdateAsync(set => set.SetProperty(j => j.SeqReservedTo, throughSeq), cancellationToken);
                return throughSeq;
            }
            catch (Exception ex) when (StoreFailures.IsUnavailable(ex))
            {
                if (time.GetUtcNow() - started >= options.Value.EventLogRetryFor)
                {
                    throw new PublishedSeqsUnavailableException($"The store did not record the seqs of job {jobId} up to {throughSeq}.", ex);
                }

                LogRetrying(ex, jobId, throughSeq, attempt);
                await Task.Delay(pause, time, cancellationToken);
                pause = pause * 2 < LongestPause ? pause * 2 : LongestPause;
            }
        }
    }

    /// <summary>The job's reserved high-water mark. Its publisher is gone (its process died), so there is nothing to close.</summary>
    public async Task<long> CloseAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var key = Key(jobId);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Jobs.AsNoTracking().Where(j => j.Id == key).Select(j => (long?)j.SeqReservedTo).SingleOrDefaultAsync(cancellationToken) ?? 0;
    }

    private static string Key(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reserving the seqs of job {JobId} up to {Seq} failed (attempt {Attempt}); retrying")]
    private partial void LogRetrying(Exception exception, Guid jobId, long seq, int attempt);
}
