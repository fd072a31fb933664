using System.Data.Common;
using System.Runtime.CompilerServices;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>
/// The job queue on PostgreSQL, shared by every node: a stored queued job is the queue entry. A worker claims the
/// oldest unclaimed one with <c>FOR UPDATE SKIP LOCKED</c> (so two workers never take the same job) under a lease
/// (<c>Jobs:LeaseDuration</c>) that <see cref="JobLeaseService"/> renews while the job runs; queued jobs survive any
/// node. Enqueueing wakes this node's idle workers at once and every other node's through PostgreSQL's
/// <c>NOTIFY</c> (<see cref="JobQueueListener"/>); a poll is the safety net for a
/// notification that never came (a listener reconnecting), <c>Jobs:QueuePollInterval</c>.
/// </summary>
internal sealed partial class PostgresJobQueue(
    IDbContextFactory<JobsDbContext> contexts, NodeIdentity node, LiveJobs live, IOptions<JobsOptions> options, TimeProvider time,
    ILogger<PostgresJobQueue> logger) : IJobQueue, IDisposable
{
    /// <summary>The channel a node notifies when it queues a job.</summary>
    public const string Channel = "cleanrealtime_jobs";

    private static readonly string Queued = JobStatus.Queued.ToWire();
    private readonly SemaphoreSlim _wake = new(0);

    public async ValueTask EnqueueAsync(Guid jobId, CancellationToken cancellationToken)
    {
        Wake();
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            await db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, {jobId.ToString()})", cancellationToken);
        }
        catch (Exception ex) when (ex is DbException or InvalidOperationException or TimeoutException)
        {
            // The job is stored: the other nodes' workers still find it at their next poll.
            LogNotifyFailed(ex, jobId);
        }
    }

    /// <summary>A job may be waiting: an idle worker of this node looks now.</summary>
    public void Wake() => _wake.Release();

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
            poll.CancelAfter(options.Value.QueuePollInterval);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} queued, but notifying the other nodes failed; their workers find it at their next poll")]
    private partial void LogNotifyFailed(Exception exception, Guid jobId);
}

/// <summary>
/// On a worker node with the PostgreSQL store: one connection that <c>LISTEN</c>s on <see cref="PostgresJobQueue.Channel"/>
/// and wakes this node's idle workers when any node queues a job, so a job submitted to another node starts within
/// milliseconds instead of at the next poll. Reconnects after a failure (logged); polling covers the gap.
/// </summary>
internal sealed partial class JobQueueListener(
    JobStoreConnection store, IJobQueue queue, TimeProvider time, ILogger<JobQueueListener> logger) : BackgroundService
{
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (queue is not PostgresJobQueue jobs)
        {
            return;
        }

        // Keepalives make a connection that died silently fail its wait instead of hanging there.
        var connectionString = new NpgsqlConnectionStringBuilder(store.ConnectionString) { KeepAlive = 15 }.ConnectionString;
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(stoppingToken);
                connection.Notification += (_, _) => jobs.Wake();
                await using (var listen = new NpgsqlCommand($"LISTEN {PostgresJobQueue.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                LogListening(PostgresJobQueue.Channel, failures);
                failures = 0;
                jobs.Wake(); // whatever was queued while nobody listened
                while (true)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is DbException or IOException or TimeoutException or InvalidOperationException)
            {
                failures++;
                LogListenFailed(ex, failures, Retry.TotalSeconds);
            }

            try
            {
                await Task.Delay(Retry, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for queued jobs on PostgreSQL channel {Channel} (after {Failures} failed attempts)")]
    private partial void LogListening(string channel, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening for queued jobs failed ({Failures} in a row); retrying in {Seconds} s, polling meanwhile")]
    private partial void LogListenFailed(Exception exception, int failures, double seconds);
}

/// <summary>The job store's connection string (<c>ConnectionStrings:Jobs</c>).</summary>
internal sealed record JobStoreConnection(string ConnectionString);

/// <summary>Names this process among the nodes sharing a job store (<c>Node:Id</c>, else host, process id and a random suffix).</summary>
internal sealed record NodeIdentity(string Id)
{
    public static NodeIdentity From(string? configured) =>
        new(string.IsNullOrWhiteSpace(configured)
            ? $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}"
            : configured.Trim());
}
