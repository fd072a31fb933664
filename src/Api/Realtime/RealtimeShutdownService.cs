using CleanRealtime.Application.Common;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// The Api's realtime edge in the container: the connection store, the local fan-out (the node's own
/// <see cref="IRealtimeBroadcaster"/>, under <see cref="IRealtimeBroadcaster.LocalKey"/>, which a backplane decorates),
/// the session handler and its shutdown.
/// </summary>
public static class RealtimeRegistration
{
    public static IServiceCollection AddRealtimeSessions(this IServiceCollection services)
    {
        services.AddSingleton<ConnectionStore>();
        services.AddSingleton<LocalFanOut>();
        services.AddKeyedSingleton<IRealtimeBroadcaster>(IRealtimeBroadcaster.LocalKey, (sp, _) => sp.GetRequiredService<LocalFanOut>());
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
