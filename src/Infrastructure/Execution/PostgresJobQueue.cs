using System.Runtime.CompilerServices;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>
/// The job queue on PostgreSQL, shared by every node: a stored queued job is the queue entry. A worker claims the
/// oldest unclaimed one with <c>FOR UPDATE SKIP LOCKED</c> (so two workers never take the same job) under a lease
/// (<c>Jobs:LeaseDuration</c>) that <see cref="JobLeaseService"/> renews while the job runs; queued jobs survive any
/// node. Enqueueing wakes this node's idle workers at once; the others find the job at their next poll.
/// </summary>
internal sealed partial class PostgresJobQueue(
    IDbContextFactory<JobsDbContext> contexts, NodeIdentity node, LiveJobs live, IOptions<JobsOptions> options, TimeProvider time,
    ILogger<PostgresJobQueue> logger) : IJobQueue, IDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    private static readonly string Queued = JobStatus.Queued.ToWire();
    private readonly SemaphoreSlim _wake = new(0);

    public ValueTask EnqueueAsync(Guid jobId, CancellationToken cancellationToken)
    {
        _wake.Release();
        return ValueTask.CompletedTask;
    }

    public async IAsyncEnumerable<Guid> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var claimed = await TryClaimAsync(cancellationToken);
            if (claimed is { } job)
            {
                yield return job;
                continue;
            }

            // Nothing to claim: wait for a local submission or the next poll, whichever comes first.
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            poll.CancelAfter(PollInterval);
            try
            {
                await _wake.WaitAsync(poll.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The poll interval passed.
            }
        }
    }

    public void Dispose() => _wake.Dispose();

    private async Task<Guid?> TryClaimAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var expires = (time.GetUtcNow() + options.Value.LeaseDuration).UtcTicks;
        var claims = await db.Database.SqlQuery<Claim>(
            $"""
             UPDATE jobs SET "LeaseOwner" = {node.Id}, "LeaseExpiresAtTicks" = {expires}
             WHERE "Id" = (SELECT "Id" FROM jobs WHERE "Status" = {Queued} AND "LeaseOwner" IS NULL
                           ORDER BY "CreatedAtTicks", "Id" LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING "Id", "CancelRequested"
             """).ToListAsync(cancellationToken);
        if (claims is not [var claim])
        {
            return null;
        }

        var id = Guid.Parse(claim.Id);
        if (claim.CancelRequested)
        {
            // Cancelled on some node while it waited: the runner sees it before its first frame.
            live.RequestCancel(id);
        }

        LogClaimed(id, node.Id);
        return id;
    }

    private sealed record Claim(string Id, bool CancelRequested);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} claimed by worker {Node}")]
    private partial void LogClaimed(Guid jobId, string node);
}

/// <summary>Names this process among the nodes sharing a job store (<c>Node:Id</c>, else host, process id and a random suffix).</summary>
internal sealed record NodeIdentity(string Id)
{
    public static NodeIdentity From(string? configured) =>
        new(string.IsNullOrWhiteSpace(configured)
            ? $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}"
            : configured.Trim());
}
