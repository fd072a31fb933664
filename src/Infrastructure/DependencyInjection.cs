using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Connections;
using CleanRealtime.Infrastructure.Events;
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

        var shared = services.AddJobStore(configuration);
        var roles = NodeRoles.From(configuration, shared);
        services.AddSingleton(roles);
        services.AddSingleton<IJobRepository, JobRepository>();
        services.AddSingleton<IJobEventLog, JobEventLog>();
        services.AddSingleton<DatabaseInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<DatabaseInitializer>());

        // Before the worker: hosted services stop in reverse order, so the log writer outlives the jobs it logs.
        services.AddHostedService<JobEventWriterService>();
        services.AddHostedService<ReplayRetentionService>();

        services.Configure<JobsOptions>(configuration.GetSection("Jobs"));
        if (shared)
        {
            // Every node shares the queue in PostgreSQL; every node renews its leases and reaps those of vanished workers.
            services.AddSingleton(NodeIdentity.From(configuration["Node:Id"]));
            services.AddSingleton<IJobQueue, PostgresJobQueue>();
            services.AddHostedService<JobLeaseService>();
        }
        else
        {
            services.AddSingleton<IJobQueue, JobQueue>();
        }

        services.AddSingleton(new WorkerStartup(RecoverUnfinishedJobs: !shared));
        services.AddHostedService<JobCheckpointService>();
        if (roles.Worker)
        {
            services.AddHostedService<JobWorker>();
        }

        services.AddHostedService<JobRetentionService>();

        services.Configure<RealtimeOptions>(configuration.GetSection("Realtime"));
        services.AddSingleton<ConnectionStore>();
        services.AddSingleton<IConnectionStore>(sp => sp.GetRequiredService<ConnectionStore>());
        services.AddSingleton<IRealtimeBroadcaster, LocalFanOut>();

        services.AddSingleton<Metrics.ServerMetrics>();
        services.AddTransient<MediatR.INotificationHandler<Application.Execution.FrameAnalyzed>, Metrics.JobMetricsHandler>();
        services.AddTransient<MediatR.INotificationHandler<Application.Execution.JobFinished>, Metrics.JobMetricsHandler>();

        services.AddMediaAndPlugins(configuration);
        return services;
    }
}
