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
/// the queue, and fails running jobs whose lease expired (their worker is gone) with <c>WORKER_LOST</c>.
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
                if (live.TryGet(id, out _))
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
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new FailLostJob(Guid.Parse(id)), cancellationToken);
        }
    }

    private sealed record Held(string Id, bool CancelRequested);

    [LoggerMessage(Level = LogLevel.Error, Message = "This node no longer holds the lease of job {JobId}; stopping it")]
    private partial void LogLeaseLost(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} claimed jobs never started before their lease expired; queued again")]
    private partial void LogReleased(int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Renewing or reaping job leases failed; retrying in the next round")]
    private partial void LogRoundFailed(Exception exception);
}
