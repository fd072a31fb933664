using System.Text.Json;
using CleanRealtime.Api.Diagnostics;
using CleanRealtime.Api.Endpoints;
using CleanRealtime.Api.Errors;
using CleanRealtime.Api.Realtime;
using CleanRealtime.Api.Security;
using CleanRealtime.Application;
using CleanRealtime.Infrastructure;
using CleanRealtime.Infrastructure.Metrics;
using Prometheus;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CleanRealtime.Api;

/// <summary>The composition root: builds the whole server, so that Program and the tests start the very same app.</summary>
public static class ServerApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // The dashboard is copied beside the assembly (Api.csproj), so it is found however the server is started:
        // scripts/run.sh from the repository root, the published folder, or a test host in another project's bin.
        // Configuration is read once at start: reloading it on change would watch the whole content root, where the
        // SQLite database lives by default, and wake on every write a job makes (~3 % of a job's CPU). An explicit
        // --hostBuilder:reloadConfigOnChange=true still turns it on.
        // The content root (where appsettings.json is read) is the app's own folder, not the working directory, so a
        // server started from anywhere reads its settings; an explicit --contentRoot (or ASPNETCORE_/DOTNET_CONTENTROOT)
        // still wins. Relative paths in the settings (the SQLite file, the media root) stay relative to the working
        // directory, as before.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false", .. args],
            ContentRootPath = ExplicitContentRoot(args) is null ? AppContext.BaseDirectory : null,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        configure?.Invoke(builder);

        builder.Services.AddApplication();
        builder.Services.AddInfrastructure(builder.Configuration);
        builder.Services.AddRealtimeSessions();

        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;
        });
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemTypes.Fill);
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.AddApiDescription();

        // Query values are read by the project's rules (QueryParameters), in every environment: the framework's own
        // binder must never answer a bad value itself (in Development it would throw its own 400 before those rules ran).
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = false);

        // The hosting layer's request lines print the query as sent, api_key included; RequestLogging logs it redacted.
        builder.Logging.AddFilter(RequestLogging.HostingCategory, LogLevel.None);
        builder.Services.AddSecurity(builder.Configuration);
        var corsOrigins = CorsOrigins(builder.Configuration);
        builder.Services.AddCors(o => o.AddDefaultPolicy(p => p
            .WithOrigins(corsOrigins).AllowAnyMethod().AllowAnyHeader().WithExposedHeaders("Location", "Retry-After")));
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        builder.Services.AddStoreRequestTimeout(builder.Configuration);

        var app = builder.Build();
        app.UseMiddleware<RequestLogging>();
        app.UseSecurityHeaders();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(Realtime.CoalescingUpgradeFeature.InstallAsync);
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });

        // The dashboard, on nodes that serve the API. Only files that exist under wwwroot are answered here; /v1,
        // /health and /openapi have no files there, so nothing of the API is shadowed.
        var servesApi = app.Services.GetRequiredService<NodeRoles>().Api;
        if (servesApi)
        {
            app.UseDefaultFiles();
            app.UseStaticFiles();
        }

        // Before the key check, so that a preflight (which carries no key) is answered; empty list = no CORS headers.
        app.UseCors();
        app.UseSecurity();
        app.UseRequestTimeouts();

        app.MapHealthChecks("/health/live", new() { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready") });
        var metrics = app.Services.GetRequiredService<ServerMetrics>().Registry;
        RealtimeMetrics.Register(metrics, app.Services.GetRequiredService<ConnectionStore>(), app.Services.GetRequiredService<LocalFanOut>());
        app.MapMetrics("/metrics", metrics);

        // A worker-only node (Node:Roles=worker) runs jobs and answers health checks only.
        if (servesApi)
        {
            app.MapOpenApi();
            app.MapJobEndpoints();
            app.MapMediaEndpoints();
            app.MapSystemEndpoints();
            app.MapRealtimeEndpoints();
        }

        return app;
    }

    /// <summary>A content root the operator chose: the command line's, else the environment's (as the host reads them).</summary>
    private static string? ExplicitContentRoot(string[] args) =>
        new ConfigurationBuilder()
            .AddEnvironmentVariables("DOTNET_")
            .AddEnvironmentVariables("ASPNETCORE_")
            .AddCommandLine(args)
            .Build()[HostDefaults.ContentRootKey] is { Length: > 0 } root
            ? root
            : null;

    /// <summary><c>Cors:AllowedOrigins</c> as an array or one comma-separated value; empty = no cross-origin access.</summary>
    private static string[] CorsOrigins(ConfigurationManager configuration)
    {
        var section = configuration.GetSection("Cors:AllowedOrigins");
        var values = section.GetChildren().Select(c => c.Value).ToList();
        if (values.Count == 0 && section.Value is { } single)
        {
            values = [.. single.Split(',')];
        }

        return [.. values.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim().TrimEnd('/'))];
    }
}

internal sealed class DatabaseHealthCheck(DatabaseInitializer database, CleanRealtime.Application.Realtime.Events.JobEventWriter events) : IHealthCheck
{
    /// <summary>A database that does not answer within this is unhealthy (a stalled server must not hang the probe).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // WaitAsync: a driver stuck on a frozen socket may not honour cancellation; the probe answers regardless.
            if (!await database.CanConnectAsync(cancellationToken).WaitAsync(Timeout, cancellationToken))
            {
                return HealthCheckResult.Unhealthy("The job database is not reachable.");
            }

            // Reachable, yet refusing the event log's writes (locked, full, read-only): jobs run, their history may not be kept.
            return events.Health.Failing is { } failing
                ? HealthCheckResult.Degraded(string.Create(
                    System.Globalization.CultureInfo.InvariantCulture, $"Writes to the job event log have failed since {failing.Since:O}: {failing.Error}"))
                : HealthCheckResult.Healthy("The job database is reachable.");
        }
        catch (TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"The job database did not answer within {Timeout.TotalSeconds:F0} s.");
        }
    }
}
