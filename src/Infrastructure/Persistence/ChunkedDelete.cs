using System.Diagnostics;
using CleanRealtime.Application.Common;
using Microsoft.EntityFrameworkCore;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>
/// Maintenance deletes (replay purge, job retention) in small transactions, so they never hold the store's write lock
/// for long: a key range is deleted a chunk at a time, each chunk one statement (one transaction of its own), sized to
/// take about <see cref="Target"/> (halved when a chunk took longer, doubled up to <see cref="MaxRows"/> when it was
/// quick), with a pause after each chunk as long as the chunk held the store (from <see cref="MinPause"/> to
/// <see cref="MaxPause"/>), in which the job path's appends, checkpoints and submissions take the lock. SQLite has one
/// writer at a time and no fair queue: a writer waiting on a busy lock only gets it when the maintenance pass lets go
/// for a while. A chunk's time is measured from the moment its transaction holds the write lock (SQLite's
/// <c>BEGIN IMMEDIATE</c>) to its commit, so waiting for another writer does not count as holding.
/// </summary>
internal static class ChunkedDelete
{
    public const int MinRows = 256;
    public const int MaxRows = 4096;
    public static readonly TimeSpan Target = TimeSpan.FromMilliseconds(20);
    public static readonly TimeSpan MinPause = TimeSpan.FromMilliseconds(5);
    public static readonly TimeSpan MaxPause = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Deletes the keys in [<paramref name="from"/>, <paramref name="to"/>) with <paramref name="deleteRange"/> (which
    /// deletes one half-open sub-range on the context it is given and returns how many rows it deleted), a chunk at a
    /// time, each in a transaction of its own; adds what it did to <paramref name="tally"/>. Stops between chunks when
    /// <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public static async Task DeleteRangeAsync(
        IDbContextFactory<JobsDbContext> contexts, long from, long to, Func<JobsDbContext, long, long, CancellationToken, Task<int>> deleteRange,
        PurgeTally tally, CancellationToken cancellationToken)
    {
        var rows = tally.NextChunkRows;
        for (var lo = from; lo < to;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var hi = lo + Math.Min(rows, to - lo);
            int deleted;
            TimeSpan held;
            await using (var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
            {
                await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                var started = Stopwatch.GetTimestamp();
                deleted = await deleteRange(db, lo, hi, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                held = Stopwatch.GetElapsedTime(started);
            }

            tally.Add(deleted, held);
            lo = hi;
            rows = held > Target ? Math.Max(MinRows, rows / 2) : held < Target / 4 ? Math.Min(MaxRows, rows * 2) : rows;
            tally.NextChunkRows = rows;

            // Real time on purpose: a pause that lets other writers in, not a timeout.
            var pause = held < MinPause ? MinPause : held > MaxPause ? MaxPause : held;
            await Task.Delay(pause, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>What a maintenance pass did, kept while it runs: rows deleted, transactions, the longest one.</summary>
internal sealed class PurgeTally
{
    public int Deleted { get; private set; }

    public int Transactions { get; private set; }

    public TimeSpan Longest { get; private set; }

    /// <summary>The chunk size the last chunk settled on, so the next range starts there.</summary>
    public int NextChunkRows { get; set; } = 512;

    public void Add(int deleted, TimeSpan took)
    {
        Deleted += deleted;
        Transactions++;
        if (took > Longest)
        {
            Longest = took;
        }
    }

    public PurgeReport ToReport() => new(Deleted, Transactions, Longest);
}
