using CleanRealtime.Application.Realtime.Events;
using Microsoft.Extensions.Hosting;

namespace CleanRealtime.Infrastructure.Events;

/// <summary>
/// Runs the event log's batch writer. On stop it writes what is still queued before it returns; it is registered
/// before the job worker, so it stops after it (jobs interrupted by shutdown still log their end).
/// </summary>
internal sealed class JobEventWriterService(JobEventWriter writer) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => writer.RunAsync(CancellationToken.None);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        writer.Complete();
        if (ExecuteTask is { } running)
        {
            await running.WaitAsync(cancellationToken);
        }
    }
}

/// <summary>Runs the replay retention purge in the background.</summary>
internal sealed class ReplayRetentionService(ReplayRetention retention) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await retention.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the next start purges what expired meanwhile.
        }
    }
}
