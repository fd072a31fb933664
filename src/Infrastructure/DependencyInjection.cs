using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Connections;
using CleanRealtime.Infrastructure.Events;
using CleanRealtime.Infrastructure.Execution;
using CleanRealtime.Infrastructure.Media;
using CleanRealtime.Infrastructure.Persistence;
using CleanRealtime.Infrastructure.Realtime;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Infrastructure;

public static class DependencyInjection
{
    public const string DefaultConnectionString = "Data Source=data/cleanrealtime.db";

    public static IServiceCollection AddInfrastructure(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        var connectionString = configuration.GetConnectionString("Jobs") ?? DefaultConnectionString;
        services.AddDbContextFactory<JobsDbContext>(o => o.UseSqlite(connectionString));
        services.AddSingleton<IJobRepository, JobRepository>();
        services.AddSingleton<IJobEventLog, JobEventLog>();
        services.AddSingleton<DatabaseInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<DatabaseInitializer>());

        // Before the worker: hosted services stop in reverse order, so the log writer outlives the jobs it logs.
        services.AddHostedService<JobEventWriterService>();
        services.AddHostedService<ReplayRetentionService>();

        services.Configure<JobsOptions>(configuration.GetSection("Jobs"));
        services.AddSingleton<IJobQueue, JobQueue>();
        services.AddHostedService<JobCheckpointService>();
        services.AddHostedService<JobWorker>();
        services.AddHostedService<JobRetentionService>();

        services.Configure<RealtimeOptions>(configuration.GetSection("Realtime"));
        services.AddSingleton<ConnectionStore>();
        services.AddSingleton<IConnectionStore>(sp => sp.GetRequiredService<ConnectionStore>());
        services.AddSingleton<IRealtimeBroadcaster, LocalFanOut>();

        services.AddMediaAndPlugins(configuration);
        return services;
    }
}
