using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.RunJob;
using MediatR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>
/// Runs queued jobs, <c>Jobs:MaxConcurrentJobs</c> at a time. With the in-process queue (one node owns its SQLite
/// store) it first recovers the jobs a stopped server left unfinished; with the shared PostgreSQL queue, leases do that
/// (<see cref="JobLeaseService"/>), since other nodes' running jobs are not this node's to fail.
/// </summary>
internal sealed partial class JobWorker(
    IServiceScopeFactory scopes, IJobQueue queue, WorkerStartup startup, IOptions<JobsOptions> options, ILogger<JobWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (startup.RecoverUnfinishedJobs)
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new RecoverJobs(), stoppingToken);
        }

        var lanes = Math.Max(1, options.Value.MaxConcurrentJobs);
        LogStarted(lanes);
        await Task.WhenAll(Enumerable.Range(0, lanes).Select(_ => RunLaneAsync(stoppingToken)));
    }

    private async Task RunLaneAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var jobId in queue.ReadAllAsync(stoppingToken))
            {
                await using var scope = scopes.CreateAsyncScope();
                try
                {
                    await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new RunJob(jobId), stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The runner reports job failures itself; this is a failure around it (e.g. the database is gone).
                    LogRunFailed(ex, jobId);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: queued jobs stay queued in the database and run after restart.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job worker started with {Lanes} concurrent lanes")]
    private partial void LogStarted(int lanes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Running job {JobId} failed outside the runner")]
    private partial void LogRunFailed(Exception exception, Guid jobId);
}

/// <summary>Whether the worker recovers unfinished jobs at start (only the single owner of an in-process queue does).</summary>
internal sealed record WorkerStartup(bool RecoverUnfinishedJobs);
