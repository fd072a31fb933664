using CleanRealtime.Application.Jobs.PurgeJobs;
using MediatR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>Deletes expired finished jobs (<c>Jobs:Retention</c>) at start and then every <see cref="Interval"/>, on the injected clock.</summary>
internal sealed partial class JobRetentionService(IServiceScopeFactory scopes, TimeProvider time, ILogger<JobRetentionService> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            do
            {
                await PurgeAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down; the next start purges again.
        }
    }

    private async Task PurgeAsync(CancellationToken stoppingToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        try
        {
            await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new PurgeExpiredJobs(), stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The database may be briefly unavailable; the next round tries again. Logged, never silent.
            LogPurgeFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Deleting expired jobs failed; retrying at the next round")]
    private partial void LogPurgeFailed(Exception exception);
}
