using System.Reflection;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Execution.Pipeline;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Plugins;
using FluentValidation;
using MediatR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CleanRealtime.Application;

public static class DependencyInjection
{
    public static IServiceCollection AddApplication(this IServiceCollection services)
    {
        var assembly = typeof(DependencyInjection).Assembly;

        // MediatR 5.1.0 has no container integration package here: the mediator resolves handlers through ServiceFactory.
        services.AddTransient<ServiceFactory>(sp => sp.GetService!);
        services.AddTransient<IMediator, Mediator>();
        services.AddTransient(typeof(IPipelineBehavior<,>), typeof(ValidationBehaviour<,>));
        foreach (var (contract, implementation) in HandlersIn(assembly))
        {
            // Notification handlers hold no state of their own (only singletons): one instance each, not a new handler and
            // its dependencies for every event a job publishes (MediatR resolves them on every Publish).
            if (contract.GetGenericTypeDefinition() == typeof(INotificationHandler<>))
            {
                services.AddSingleton(contract, implementation);
            }
            else
            {
                services.AddTransient(contract, implementation);
            }
        }

        services.AddValidatorsFromAssembly(assembly, ServiceLifetime.Singleton, includeInternalTypes: true);

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<PluginCatalog>();
        services.AddSingleton<LiveJobs>();
        services.AddSingleton<JobCheckpointer>();
        services.AddSingleton<Jobs.CreateJob.JobAdmission>();
        services.AddSingleton<MediaLibrary.UploadShares>();
        services.AddSingleton<ExpensiveReads>();
        services.AddSingleton<Realtime.RealtimeMessages>();
        services.AddSingleton<Realtime.MessageSerializer>();
        services.AddSingleton<Realtime.Events.JobEventWriter>();
        services.AddSingleton<Realtime.Events.JobStreams>();
        services.AddSingleton<Realtime.Events.RemoteJobStreams>();
        services.AddSingleton<Realtime.Events.JobHistory>();
        services.AddSingleton<Realtime.Events.ReplayRetention>();
        services.AddSingleton<Realtime.Events.LostJobStreams>();
        services.TryAddSingleton<IPublishedSeqs, NoPublishedSeqs>();
        services.TryAddSingleton<ISeqReservations, NoSeqReservations>();
        services.AddSingleton<JobProjection>();
        services.AddTransient<JobEvents>();
        services.AddTransient<JobEnding>();
        services.AddTransient<LoggedFrames>();
        services.AddTransient<InspectorService>();
        services.AddTransient<OutcomeReporter>();
        services.AddSingleton<FramePipelines>();
        services.AddTransient<ToolRunner>();
        return services;
    }

    /// <summary>
    /// Every request and notification handler of the assembly, in name order. Their order does not matter: the job
    /// projection is no handler, <see cref="JobEvents"/> applies each event to it before publishing it.
    /// </summary>
    private static IEnumerable<(Type Contract, Type Implementation)> HandlersIn(Assembly assembly) =>
        from type in assembly.GetTypes()
        where type is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false }
        orderby type.FullName
        from contract in type.GetInterfaces()
        where contract.IsGenericType
              && (contract.GetGenericTypeDefinition() == typeof(IRequestHandler<,>)
                  || contract.GetGenericTypeDefinition() == typeof(INotificationHandler<>))
        select (contract, type);
}
