using System.Data.Common;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>
/// The job queue on PostgreSQL, shared by every node: a stored queued job is the queue entry. A worker claims the next
/// one (<see cref="FairClaim"/>: round-robin between clients, each held to <c>Jobs:MaxRunningJobsPerClient</c> across
/// all nodes) under a lease (<c>Jobs:LeaseDuration</c>) that <see cref="JobLeaseService"/> renews while the job runs;
/// queued jobs survive any node. Claims are serialized across nodes by a transaction-scoped advisory lock, so two
/// workers never take the same job nor both take a client's last free place. Enqueueing wakes this node's idle workers
/// at once and every other node's through PostgreSQL's <c>NOTIFY</c> (<see cref="JobQueueListener"/>); a poll is the
/// safety net for a notification that never came (a listener reconnecting), <c>Jobs:QueuePollInterval</c>.
/// </summary>
internal sealed partial class PostgresJobQueue(
    IDbContextFactory<JobsDbContext> contexts, NodeIdentity node, LiveJobs live, IOptions<JobsOptions> options, TimeProvider time,
    ILogger<PostgresJobQueue> logger) : ClaimingJobQueue(contexts, node, live, options, logger)
{
    /// <summary>The channel a node notifies when it queues a job.</summary>
    public const string Channel = "cleanrealtime_jobs";

    public override async ValueTask EnqueueAsync(Guid jobId, CancellationToken cancellationToken)
    {
        Wake();
        try
        {
            await using var db = await Contexts.CreateDbContextAsync(cancellationToken);
            await db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, {jobId.ToString()})", cancellationToken);
        }
        catch (Exception ex) when (ex is DbException or InvalidOperationException or TimeoutException)
        {
            // The job is stored: the other nodes' workers still find it at their next poll.
            LogNotifyFailed(Logger, ex, jobId);
        }
    }

    protected override async Task<FairClaim.Claim?> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var db = await Contexts.CreateDbContextAsync(cancellationToken);
        if (!await FairClaim.AnyWaitingAsync(db, cancellationToken))
        {
            return null;
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({FairClaim.ClaimLockKey})", cancellationToken);
        var expires = (time.GetUtcNow() + Options.LeaseDuration).UtcTicks;
        var claim = await FairClaim.NextAsync(db, Node.Id, expires, Options.EffectiveMaxRunningJobsPerClient, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return claim;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} queued, but notifying the other nodes failed; their workers find it at their next poll")]
    private static partial void LogNotifyFailed(ILogger logger, Exception exception, Guid jobId);
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
