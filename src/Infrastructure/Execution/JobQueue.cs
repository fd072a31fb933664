using System.Collections.Concurrent;
using System.Data.Common;
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
/// A job queue whose entries are the stored queued jobs: a free worker claims the next one with <see cref="FairClaim"/>
/// (round-robin between clients, each held to <c>Jobs:MaxRunningJobsPerClient</c>). A submission on this node wakes an
/// idle worker at once; a poll every <c>Jobs:QueuePollInterval</c> is the safety net (a job of a client whose place was
/// freed elsewhere, a claim that failed). A claim that fails (the database busy or away) is logged and tried again at
/// the next poll: the worker's lane never dies of it. When the worker comes back for its next job, the one it was
/// given is released if it never started (the run failed before it could, e.g. the database was away), so that it is
/// neither lost nor held against its client's running cap — once per job: a job that cannot start twice stays claimed
/// (and logged) until a restart (SQLite) or its lease expires (PostgreSQL), instead of taking the worker in a loop.
/// </summary>
internal abstract partial class ClaimingJobQueue(
    IDbContextFactory<JobsDbContext> contexts, NodeIdentity node, LiveJobs live, IOptions<JobsOptions> options, ILogger logger) : IJobQueue, IDisposable
{
    private static readonly string Queued = JobStatus.Queued.ToWire();

    private readonly SemaphoreSlim _wake = new(0);
    private readonly ConcurrentDictionary<Guid, byte> _givenBack = new();

    protected IDbContextFactory<JobsDbContext> Contexts => contexts;

    protected NodeIdentity Node => node;

    protected JobsOptions Options => options.Value;

    protected ILogger Logger => logger;

    public abstract ValueTask EnqueueAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>A job may be waiting: an idle worker of this node looks now.</summary>
    public void Wake() => _wake.Release();

    public async IAsyncEnumerable<Guid> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var claimed = await TryClaimOrLogAsync(cancellationToken);
            if (claimed is { } job)
            {
                yield return job;
                await ReleaseIfNeverStartedAsync(job, cancellationToken);
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

    public void Dispose()
    {
        _wake.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Claims the next job for this node in the store; null when none may start now.</summary>
    protected abstract Task<FairClaim.Claim?> ClaimAsync(CancellationToken cancellationToken);

    private async Task ReleaseIfNeverStartedAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var key = jobId.ToString("D");
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            var unstarted = db.Jobs.Where(j => j.Id == key && j.Status == Queued && j.LeaseOwner == node.Id);
            if (!await unstarted.AnyAsync(cancellationToken))
            {
                return;
            }

            if (!_givenBack.TryAdd(jobId, 0))
            {
                LogNeverStartedAgain(jobId);
                return;
            }

            await unstarted.ExecuteUpdateAsync(
                set => set.SetProperty(j => j.LeaseOwner, (string?)null).SetProperty(j => j.LeaseExpiresAtTicks, (long?)null), cancellationToken);
            LogNeverStarted(jobId);
        }
        catch (Exception ex) when (ex is DbException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            // Given back at the next start (SQLite) or when its lease expires (PostgreSQL).
            LogReleaseFailed(ex, jobId);
        }
    }

    private async Task<Guid?> TryClaimOrLogAsync(CancellationToken cancellationToken)
    {
        FairClaim.Claim? claim;
        try
        {
            claim = await ClaimAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is DbException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            LogClaimFailed(ex);
            return null;
        }

        if (claim is null)
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} claimed by worker {Node}")]
    private partial void LogClaimed(Guid jobId, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was claimed but never started; queued again")]
    private partial void LogNeverStarted(Guid jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} was claimed and could not start a second time; it stays claimed until a restart or its lease expires")]
    private partial void LogNeverStartedAgain(Guid jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Giving back the claim of job {JobId}, which never started, failed")]
    private partial void LogReleaseFailed(Exception exception, Guid jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming the next queued job failed; trying again at the next poll")]
    private partial void LogClaimFailed(Exception exception);
}

/// <summary>
/// The queue of a single node on its own SQLite store. Claims made by an earlier run of the server (it stopped between
/// claiming a job and starting it) are given back before this run claims anything: with one node, they are no one's.
/// </summary>
internal sealed partial class JobQueue(
    IDbContextFactory<JobsDbContext> contexts, NodeIdentity node, LiveJobs live, IOptions<JobsOptions> options, TimeProvider time,
    ILogger<JobQueue> logger) : ClaimingJobQueue(contexts, node, live, options, logger)
{
    private static readonly string Queued = JobStatus.Queued.ToWire();
    private readonly SemaphoreSlim _released = new(1, 1);
    private bool _staleClaimsReleased;

    public override ValueTask EnqueueAsync(Guid jobId, CancellationToken cancellationToken)
    {
        Wake();
        return ValueTask.CompletedTask;
    }

    protected override async Task<FairClaim.Claim?> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var db = await Contexts.CreateDbContextAsync(cancellationToken);
        await ReleaseStaleClaimsAsync(db, cancellationToken);
        if (!await FairClaim.AnyWaitingAsync(db, cancellationToken))
        {
            return null;
        }

        var expires = (time.GetUtcNow() + Options.LeaseDuration).UtcTicks;
        return await FairClaim.NextAsync(db, Node.Id, expires, Options.EffectiveMaxRunningJobsPerClient, cancellationToken);
    }

    private async Task ReleaseStaleClaimsAsync(JobsDbContext db, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _staleClaimsReleased))
        {
            return;
        }

        await _released.WaitAsync(cancellationToken);
        try
        {
            if (!_staleClaimsReleased)
            {
                var released = await db.Jobs
                    .Where(j => j.Status == Queued && j.LeaseOwner != null && j.LeaseOwner != Node.Id)
                    .ExecuteUpdateAsync(set => set.SetProperty(j => j.LeaseOwner, (string?)null).SetProperty(j => j.LeaseExpiresAtTicks, (long?)null), cancellationToken);
                if (released > 0)
                {
                    LogReleased(Logger, released);
                }

                Volatile.Write(ref _staleClaimsReleased, true);
            }
        }
        finally
        {
            _released.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} jobs claimed but never started by an earlier run of the server; queued again")]
    private static partial void LogReleased(ILogger logger, int count);
}
