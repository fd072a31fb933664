using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.FailLostJob;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Persistence;
using MediatR;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>
/// The PostgreSQL queue's leases, on every node. Twice a second: renews the leases of the jobs this node runs and picks
/// up cancels asked on any node (so a cancel reaches the worker within a second); a job whose lease this node no longer
/// holds is stopped. Every <c>Jobs:LeaseDuration</c>/2 (at most 5 s): gives claims of jobs that never started back to
/// the queue, and fails running jobs whose lease expired (their worker is gone) with <c>WORKER_LOST</c>. Every node reaps,
/// but one node per lost job: it first claims the expired lease with a conditional update that only one node wins (the
/// others skip the job quietly), and a job that cannot be failed now is given back for the next round without holding up
/// the other lost jobs.
/// </summary>
internal sealed partial class JobLeaseService(
    IDbContextFactory<JobsDbContext> contexts,
    NodeIdentity node,
    LiveJobs live,
    IServiceScopeFactory scopes,
    IOptions<JobsOptions> options,
    TimeProvider time,
    ILogger<JobLeaseService> logger) : BackgroundService
{
    public static readonly TimeSpan RenewInterval = TimeSpan.FromMilliseconds(500);
    private static readonly string Queued = JobStatus.Queued.ToWire();
    private static readonly string Running = JobStatus.Running.ToWire();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reapEvery = TimeSpan.FromTicks(Math.Min(options.Value.LeaseDuration.Ticks / 2, TimeSpan.FromSeconds(5).Ticks));
        var nextReap = time.GetUtcNow();
        using var timer = new PeriodicTimer(RenewInterval, time);
        try
        {
            do
            {
                var reap = time.GetUtcNow() >= nextReap;
                if (reap)
                {
                    nextReap = time.GetUtcNow() + reapEvery;
                }

                await RoundAsync(reap, stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: this node's jobs are failed by its own shutdown; leases of a crash are reaped elsewhere.
        }
    }

    private async Task RoundAsync(bool reap, CancellationToken stoppingToken)
    {
        try
        {
            await RenewAsync(stoppingToken);
            if (reap)
            {
                await ReapAsync(stoppingToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The database may be briefly unreachable; the lease outlasts a few missed rounds. Logged, never silent.
            LogRoundFailed(ex);
        }
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        var running = live.RunningIds;
        if (running.Count == 0)
        {
            return;
        }

        var keys = running.Select(id => id.ToString("D")).ToArray();
        var expires = (time.GetUtcNow() + options.Value.LeaseDuration).UtcTicks;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var held = await db.Database.SqlQuery<Held>(
            $"""
             UPDATE jobs SET "LeaseExpiresAtTicks" = {expires}
             WHERE "Id" = ANY({keys}) AND "LeaseOwner" = {node.Id}
             RETURNING "Id", "CancelRequested"
             """).ToListAsync(cancellationToken);
        foreach (var id in running)
        {
            var lease = held.Find(h => h.Id == id.ToString("D"));
            if (lease is null)
            {
                if (live.IsRunning(id))
                {
                    LogLeaseLost(id);
                    live.RequestCancel(id);
                }
            }
            else if (lease.CancelRequested && !live.IsCancelRequested(id))
            {
                live.RequestCancel(id);
            }
        }
    }

    private async Task ReapAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcTicks;
        List<string> lost;
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            var released = await db.Jobs
                .Where(j => j.Status == Queued && j.LeaseOwner != null && j.LeaseExpiresAtTicks < now)
                .ExecuteUpdateAsync(set => set.SetProperty(j => j.LeaseOwner, (string?)null).SetProperty(j => j.LeaseExpiresAtTicks, (long?)null), cancellationToken);
            if (released > 0)
            {
                LogReleased(released);
            }

            lost = await db.Jobs.Where(j => j.Status == Running && j.LeaseExpiresAtTicks < now).Select(j => j.Id).ToListAsync(cancellationToken);
        }

        foreach (var id in lost)
        {
            await ReapOneAsync(id, now, cancellationToken);
        }
    }

    /// <summary>Claims one lost job's expired lease for this node and fails the job; gives it back when that did not happen.</summary>
    private async Task ReapOneAsync(string id, long now, CancellationToken cancellationToken)
    {
        var jobId = Guid.Parse(id);
        try
        {
            if (!await ClaimLostAsync(id, now, cancellationToken))
            {
                LogReapedElsewhere(jobId);
                return;
            }

            bool failed;
            await using (var scope = scopes.CreateAsyncScope())
            {
                failed = await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new FailLostJob(jobId), cancellationToken);
            }

            if (!failed)
            {
                await ReleaseAsync(id, now, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // This job only: the round goes on with the others; the claim is given back so the next round tries again.
            LogReapFailed(ex, jobId);
            try
            {
                await ReleaseAsync(id, now, cancellationToken);
            }
            catch (Exception release) when (release is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogReleaseFailed(release, jobId, options.Value.LeaseDuration.TotalSeconds);
            }
        }
    }

    /// <summary>
    /// Takes the expired lease of a running job for this node, for one lease: true for exactly one of the nodes that try
    /// (the row lock orders them; the others see a lease that is no longer expired).
    /// </summary>
    private async Task<bool> ClaimLostAsync(string id, long now, CancellationToken cancellationToken)
    {
        var until = (time.GetUtcNow() + options.Value.LeaseDuration).UtcTicks;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var claimed = await db.Database.ExecuteSqlAsync(
            $"""
             UPDATE jobs SET "LeaseOwner" = {node.Id}, "LeaseExpiresAtTicks" = {until}
             WHERE "Id" = {id} AND "Status" = {Running} AND "LeaseExpiresAtTicks" < {now}
             """,
            cancellationToken);
        return claimed == 1;
    }

    /// <summary>Lets the claim of a job that is still running expire now, so any node's next round reaps it again.</summary>
    private async Task ReleaseAsync(string id, long now, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync(
            $"""
             UPDATE jobs SET "LeaseExpiresAtTicks" = {now}
             WHERE "Id" = {id} AND "Status" = {Running} AND "LeaseOwner" = {node.Id}
             """,
            cancellationToken);
    }

    private sealed record Held(string Id, bool CancelRequested);

    [LoggerMessage(Level = LogLevel.Error, Message = "This node no longer holds the lease of job {JobId}; stopping it")]
    private partial void LogLeaseLost(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} claimed jobs never started before their lease expired; queued again")]
    private partial void LogReleased(int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Renewing or reaping job leases failed; retrying in the next round")]
    private partial void LogRoundFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}'s expired lease was claimed by another node, which fails it; skipped here")]
    private partial void LogReapedElsewhere(Guid jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Failing job {JobId}, whose worker was lost, failed; it is tried again in the next round")]
    private partial void LogReapFailed(Exception exception, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Giving back the claim on lost job {JobId} failed; any node tries it again once the claim expires ({Seconds:F0} s)")]
    private partial void LogReleaseFailed(Exception exception, Guid jobId, double seconds);
}
