using CleanRealtime.Application.Jobs.Projection;
using Microsoft.Extensions.Hosting;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>Hosts the background loop that saves running jobs' checkpoints.</summary>
internal sealed class JobCheckpointService(JobCheckpointer checkpointer) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await checkpointer.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Final states are saved by the jobs themselves; pending checkpoints of interrupted jobs are moot.
        }
    }
}
