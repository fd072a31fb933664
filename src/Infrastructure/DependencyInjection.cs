using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Infrastructure.Execution;
using CleanRealtime.Infrastructure.Media;
using CleanRealtime.Infrastructure.Persistence;
using CleanRealtime.Infrastructure.Realtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Infrastructure;

public static class DependencyInjection
{
    public static IServiceCollection AddInfrastructure(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddJobStore(configuration);
        services.AddSingleton<IJobRepository, JobRepository>();
        services.AddSingleton<DatabaseInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<DatabaseInitializer>());

        services.Configure<JobsOptions>(configuration.GetSection("Jobs"));
        services.AddSingleton<IJobQueue, JobQueue>();
        services.AddHostedService<JobCheckpointService>();
        services.AddHostedService<JobWorker>();
        services.AddHostedService<JobRetentionService>();

        services.Configure<RealtimeOptions>(configuration.GetSection("Realtime"));
        services.AddSingleton<MessageSerializer>();
        services.AddSingleton<ConnectionManager>();
        services.AddSingleton<IRealtimeBroadcaster>(sp => sp.GetRequiredService<ConnectionManager>());
        services.AddHostedService<RealtimeShutdownService>();

        services.AddMediaAndPlugins(configuration);
        return services;
    }
}
