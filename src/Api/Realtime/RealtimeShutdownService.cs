
namespace CleanRealtime.Api.Realtime;

/// <summary>The Api's realtime sessions in the container: the session handler and its shutdown.</summary>
public static class RealtimeRegistration
{
    public static IServiceCollection AddRealtimeSessions(this IServiceCollection services)
    {
        services.AddSingleton<RealtimeSessions>();
        services.AddHostedService<RealtimeShutdownService>();
        return services;
    }
}

/// <summary>On shutdown, before the server stops, every realtime connection is closed with 1000.</summary>
internal sealed class RealtimeShutdownService(RealtimeSessions connections) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await connections.CloseAllAsync(1000, "server shutting down");
        }
        catch (TimeoutException)
        {
            // Connections still open now are aborted by the server as it stops; each one logged its own end.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
