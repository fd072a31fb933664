using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Infrastructure.Events;
using CleanRealtime.Infrastructure.Execution;
using CleanRealtime.Infrastructure.Media;
using CleanRealtime.Infrastructure.Persistence;
using CleanRealtime.Infrastructure.Plugins;
using CleanRealtime.Infrastructure.Realtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Infrastructure;

public static class DependencyInjection
{
    public static IServiceCollection AddInfrastructure(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        // Before anything can load OpenCV's native library, which reads its thread-pool settings once.
        OpenCvThreadPool.DisableWorkerSpinning();
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
        services.Configure<ReadsOptions>(configuration.GetSection("Reads"));
        services.Configure<PluginsOptions>(configuration.GetSection("Plugins"));
        services.AddSingleton(NodeIdentity.From(configuration["Node:Id"]));
        if (shared)
        {
            // Every node shares the queue in PostgreSQL; every node renews its leases and reaps those of vanished workers.
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
            if (shared)
            {
                services.AddHostedService<JobQueueListener>();
            }
        }

        services.AddHostedService<JobRetentionService>();

        services.Configure<RealtimeOptions>(configuration.GetSection("Realtime"));
        services.AddBackplane(configuration, shared);

        services.AddSingleton<Metrics.ServerMetrics>();
        services.AddSingleton<MediatR.INotificationHandler<Application.Execution.FrameAnalyzed>, Metrics.JobMetricsHandler>();
        services.AddSingleton<MediatR.INotificationHandler<Application.Execution.JobFinished>, Metrics.JobMetricsHandler>();

        services.AddMedia(configuration);
        services.AddBuiltInPlugins();
        return services;
    }

    /// <summary>
    /// <c>Realtime:Backplane</c> = <c>none</c> (the local fan-out only) or <c>redis</c> (<c>ConnectionStrings:Redis</c>):
    /// messages cross nodes through Redis, and each node fills what Redis lost from the shared event log, which is why
    /// the backplane needs <c>Storage:Provider=postgres</c>. The local fan-out is the host's, registered under
    /// <see cref="IRealtimeBroadcaster.LocalKey"/> beside its sessions; the backplane decorates it.
    /// </summary>
    private static void AddBackplane(this IServiceCollection services, IConfiguration configuration, bool sharedStore)
    {
        var backplane = (configuration["Realtime:Backplane"] ?? "none").Trim().ToLowerInvariant();
        switch (backplane)
        {
            case "none":
                services.AddSingleton(sp => sp.GetRequiredKeyedService<IRealtimeBroadcaster>(IRealtimeBroadcaster.LocalKey));
                services.AddSingleton<Persistence.StoredPublishedSeqs>();
                services.AddSingleton<IPublishedSeqs>(sp => sp.GetRequiredService<Persistence.StoredPublishedSeqs>());
                services.AddSingleton<ISeqReservations>(sp => sp.GetRequiredService<Persistence.StoredPublishedSeqs>());
                return;
            case "redis":
                var connectionString = configuration.GetConnectionString("Redis");
                if (string.IsNullOrWhiteSpace(connectionString))
                {
                    throw new InvalidOperationException("Realtime:Backplane=redis needs ConnectionStrings:Redis (e.g. 'localhost:6379').");
                }

                if (!sharedStore)
                {
                    throw new InvalidOperationException(
                        "Realtime:Backplane=redis needs Storage:Provider=postgres: nodes fill what Redis loses from the shared event log.");
                }

                services.AddSingleton(new RedisConnection(connectionString));
                services.AddSingleton<BackplaneOutbox>();
                services.AddSingleton<RedisLink>();
                services.AddSingleton<IPublishedSeqs, RedisPublishedSeqs>();
                services.AddHostedService(sp => sp.GetRequiredService<RedisLink>());
                services.AddHostedService<RemoteJobSweepService>();
                services.AddSingleton<IRealtimeBroadcaster, RedisBackplane>();
                return;
            default:
                throw new InvalidOperationException($"Realtime:Backplane must be 'none' or 'redis', not '{backplane}'.");
        }
    }
}
