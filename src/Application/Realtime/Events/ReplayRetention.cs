using CleanRealtime.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Realtime.Events;

/// <summary>
/// Keeps a job's messages for <see cref="RealtimeOptions.ReplayRetention"/> after the job ends, then purges them (all
/// but the job's last message), every <see cref="RealtimeOptions.ReplayPurgeInterval"/> on the injected clock.
/// </summary>
public sealed partial class ReplayRetention(IJobEventLog log, IOptions<RealtimeOptions> options, TimeProvider time, ILogger<ReplayRetention> logger)
{
    /// <summary>Purges what has expired now; returns what was dropped, and how.</summary>
    public async Task<PurgeReport> PurgeExpiredAsync(CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - options.Value.ReplayRetention;
        var purged = await log.PurgeAsync(cutoff, cancellationToken).ConfigureAwait(false);
        if (purged.Deleted > 0)
        {
            LogPurged(purged.Deleted, cutoff, purged.Transactions, purged.LongestTransaction.TotalMilliseconds);
        }

        return purged;
    }

    /// <summary>The background loop (run by a hosted service): purge, wait an interval, again. A failed purge is retried next time.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PurgeExpiredAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPurgeFailed(ex);
            }

            await Task.Delay(options.Value.ReplayPurgeInterval, time, stoppingToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged {Count} job messages of jobs that ended before {Cutoff} in {Transactions} transactions (longest {LongestMs:F1} ms)")]
    private partial void LogPurged(int count, DateTimeOffset cutoff, int transactions, double longestMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Purging expired job messages failed; the next run retries")]
    private partial void LogPurgeFailed(Exception exception);
}
