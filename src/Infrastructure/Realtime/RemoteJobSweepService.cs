using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>Runs <see cref="RemoteJobStreams.SweepAsync"/> every <see cref="RealtimeOptions.BackplaneCatchUpInterval"/>.</summary>
/// <remarks>
/// The clock of the mirrors: a message lost with nothing after it (a job's end, or everything while Redis is down)
/// produces no gap to notice, so only a periodic sweep finds it. A failed round is logged and the next one runs anyway.
/// </remarks>
internal sealed partial class RemoteJobSweepService(RemoteJobStreams remote, IOptions<RealtimeOptions> options, TimeProvider time, ILogger<RemoteJobSweepService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.BackplaneCatchUpInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await remote.SweepAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogSweepFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backplane: checking the mirrored jobs against the event log failed; next round in one interval")]
    private partial void LogSweepFailed(Exception exception);
}
