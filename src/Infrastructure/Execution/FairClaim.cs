using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>
/// Which queued job a free worker takes next, the same on SQLite and PostgreSQL: round-robin between clients (the
/// <c>SubmittedBy</c> of a job) instead of one global first-in-first-out, and never a job of a client that already has
/// <c>Jobs:MaxRunningJobsPerClient</c> jobs running or claimed, on any node.
/// </summary>
/// <remarks>
/// Round-robin comes from each job's <see cref="JobRow.Turn"/>, given when it is stored: a client's jobs take turns
/// 1, 2, 3… after the round being served, and a newcomer's first job takes the next round. Workers claim the lowest
/// turn (the older job on a tie), so a newcomer waits for at most one job of each client ahead of it, not for all
/// the jobs one client queued. The count of a client's busy jobs and the choice are made in the one <c>UPDATE</c> that
/// claims the job, so on SQLite (one writer) they cannot race; PostgreSQL serializes claims with a transaction-scoped
/// advisory lock (<see cref="ClaimLockKey"/>), so two nodes never both take a client's last free place. Jobs stored
/// without a client count as one client.
/// </remarks>
internal static class FairClaim
{
    /// <summary>The PostgreSQL advisory lock every node's claim takes for the length of its transaction.</summary>
    public const long ClaimLockKey = 0x436c61696d4a6f62; // "ClaimJob"

    private static readonly string Queued = JobStatus.Queued.ToWire();
    private static readonly string Running = JobStatus.Running.ToWire();

    /// <summary>
    /// Whether any job waits unclaimed: read first, so that an idle worker's poll writes nothing and takes no lock.
    /// </summary>
    public static Task<bool> AnyWaitingAsync(JobsDbContext db, CancellationToken cancellationToken) =>
        db.Jobs.AnyAsync(j => j.Status == Queued && j.LeaseOwner == null, cancellationToken);

    /// <summary>Claims the next job for <paramref name="owner"/>; null when no client with a free place has one waiting.</summary>
    public static async Task<Claim?> NextAsync(JobsDbContext db, string owner, long expiresAtTicks, int perClient, CancellationToken cancellationToken)
    {
        var claims = await db.Database.SqlQuery<Claim>(
            $"""
             UPDATE jobs SET "LeaseOwner" = {owner}, "LeaseExpiresAtTicks" = {expiresAtTicks}
             WHERE "Status" = {Queued} AND "LeaseOwner" IS NULL AND "Id" = (
                 SELECT "Id" FROM jobs
                 WHERE "Status" = {Queued} AND "LeaseOwner" IS NULL
                   AND COALESCE("SubmittedBy", '') NOT IN (
                       SELECT COALESCE("SubmittedBy", '') FROM jobs
                       WHERE "Status" = {Running} OR ("Status" = {Queued} AND "LeaseOwner" IS NOT NULL)
                       GROUP BY COALESCE("SubmittedBy", '')
                       HAVING COUNT(*) >= {perClient})
                 ORDER BY "Turn", "CreatedAtTicks", "Id"
                 LIMIT 1)
             RETURNING "Id", "CancelRequested"
             """).ToListAsync(cancellationToken);
        return claims is [var claim] ? claim : null;
    }

    public sealed record Claim(string Id, bool CancelRequested);
}
