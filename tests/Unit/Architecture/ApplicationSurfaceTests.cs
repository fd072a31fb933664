using System.Reflection;
using System.Runtime.CompilerServices;
using CleanRealtime.Application;
using FluentValidation;
using MediatR;
using Microsoft.Extensions.DependencyInjection;
using NSubstitute;
using Xunit.Abstractions;

namespace CleanRealtime.UnitTests.Architecture;

/// <summary>
/// Application's public surface stays small: requests and their answers, events, ports, options (the plugin contract is the SDK's, src/Plugins.Sdk),
/// and the few services Api and Infrastructure name. Handlers, validators and the rest are internal; MediatR and
/// FluentValidation still find them.
/// </summary>
public sealed class ApplicationSurfaceTests(ITestOutputHelper output)
{
    private static readonly Assembly Application = typeof(DependencyInjection).Assembly;

    /// <summary>
    /// Application services that Api or Infrastructure name (in a constructor, a hosted service, an endpoint), so they
    /// cannot be internal. A new entry is a deliberate choice: say who uses it.
    /// </summary>
    private static readonly HashSet<string> UsedByApiOrInfrastructure =
    [
        "DependencyInjection",      // Api's composition root: AddApplication()
        "ExpensiveReads",           // Api: the job endpoints gate large reads
        "JobCheckpointer",          // Infrastructure: JobCheckpointService runs it
        "LiveJobs",                 // Infrastructure: the queues and the lease service cancel running jobs
        "PluginCatalog",            // Api: GET /v1/plugins
        "PluginMetadataExtensions", // Api: GET /v1/plugins describes each plugin's metadata as the metadata message does
        "EventLogHealth",           // Api and Infrastructure: the health check and /metrics read JobEventWriter.Health
        "JobEventWriter",           // Infrastructure runs it; Api's health check and the bench use it
        "JobHistory",               // Api: the realtime endpoints replay from it
        "JobStreams",               // RemoteJobStreams' constructor takes it
        "RemoteJobStreams",         // Infrastructure: the Redis link feeds it, the sweep service runs it
        "ReplayRetention",          // Infrastructure: ReplayRetentionService runs it
        "MessageKinds",             // Api: OutboundQueue asks IsDroppable
        "MessageSerializer",        // Api: the sessions serialize pings and welcomes
        "RealtimeMessages",         // Api: the sessions make pings and welcomes
    ];

    [Fact]
    public void ExportedTypes_AreRequestsEventsPortsOptionsOrNamedUses_AndNoHandlerOrValidator()
    {
        var exported = Application.GetExportedTypes();
        var byCategory = exported.GroupBy(Categorize).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();

        output.WriteLine($"{exported.Length} exported types in {Application.GetName().Name}");
        foreach (var category in byCategory)
        {
            output.WriteLine($"{category.Key} ({category.Count()}): {string.Join(", ", category.Select(t => t.Name).Order(StringComparer.Ordinal))}");
        }

        Assert.Empty(exported.Where(IsHandler).Select(t => t.FullName));
        Assert.Empty(exported.Where(IsValidator).Select(t => t.FullName));
        Assert.Empty(exported.Where(IsPipelineBehaviour).Select(t => t.FullName));
        Assert.Empty(exported.Where(t => Categorize(t) == "unexplained").Select(t => t.FullName));
    }

    [Fact]
    public void AddApplication_RegistersExactlyOneHandlerForEveryRequest_AndTheContainerResolvesIt()
    {
        var services = ApplicationServices();
        using var provider = services.BuildServiceProvider();

        var requests = Application.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false } && ResponseOf(t) is not null).ToList();
        Assert.NotEmpty(requests);
        foreach (var request in requests)
        {
            var contract = typeof(IRequestHandler<,>).MakeGenericType(request, ResponseOf(request)!);
            var registered = services.Where(d => d.ServiceType == contract).ToList();

            Assert.True(registered.Count == 1, $"{request.Name}: {registered.Count} handlers registered, not 1");
            Assert.False(registered[0].ImplementationType!.IsPublic, $"{registered[0].ImplementationType!.Name} is public");
            Assert.NotNull(provider.GetRequiredService(contract));
        }
    }

    [Fact]
    public void AddApplication_RegistersEveryValidator_AndTheContainerResolvesIt()
    {
        var services = ApplicationServices();
        using var provider = services.BuildServiceProvider();

        var validators = Application.GetTypes().Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false } && IsValidator(t)).ToList();
        Assert.NotEmpty(validators);
        foreach (var validator in validators)
        {
            var validated = ValidatedBy(validator)!;
            var contract = typeof(IValidator<>).MakeGenericType(validated);

            Assert.Contains(services, d => d.ServiceType == contract && d.ImplementationType == validator);
            Assert.Contains(provider.GetServices(contract), v => v!.GetType() == validator);
        }
    }

    private static string Categorize(Type type) => type switch
    {
        _ when IsHandler(type) => "handler (must be internal)",
        _ when IsValidator(type) => "validator (must be internal)",
        _ when IsPipelineBehaviour(type) => "pipeline behaviour (must be internal)",
        _ when ResponseOf(type) is not null => "request",
        _ when typeof(INotification).IsAssignableFrom(type) => "event",
        { IsInterface: true } => "port",
        _ when typeof(Exception).IsAssignableFrom(type) => "exception (mapped to a problem by Api)",
        _ when type.Name.EndsWith("Options", StringComparison.Ordinal) => "options (bound from configuration)",
        _ when IsRecord(type) => "data (a request's answer or a port's shape)",
        _ when UsedByApiOrInfrastructure.Contains(type.Name) => "service used by Api or Infrastructure",
        _ => "unexplained",
    };

    private static Type? ResponseOf(Type type) =>
        type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IRequest<>))?.GetGenericArguments()[0];

    private static bool IsHandler(Type type) =>
        type.GetInterfaces().Any(i => i.IsGenericType
            && (i.GetGenericTypeDefinition() == typeof(IRequestHandler<,>) || i.GetGenericTypeDefinition() == typeof(INotificationHandler<>)));

    private static bool IsValidator(Type type) => ValidatedBy(type) is not null;

    private static Type? ValidatedBy(Type type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(AbstractValidator<>))
            {
                return t.GetGenericArguments()[0];
            }
        }

        return null;
    }

    private static bool IsPipelineBehaviour(Type type) =>
        type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IPipelineBehavior<,>));

    /// <summary>A record class or record struct: the compiler gives both a <c>PrintMembers</c> method.</summary>
    private static bool IsRecord(Type type) =>
        type.GetMethod("PrintMembers", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public) is { } print
        && print.GetCustomAttribute<CompilerGeneratedAttribute>() is not null;

    /// <summary>AddApplication with every port (an exported interface) a substitute.</summary>
    private static ServiceCollection ApplicationServices()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddApplication();
        foreach (var port in Application.GetExportedTypes().Where(t => t.IsInterface))
        {
            if (!services.Any(d => d.ServiceType == port))
            {
                services.AddSingleton(port, Substitute.For([port], []));
            }
        }

        return services;
    }
}
