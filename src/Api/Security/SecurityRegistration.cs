using CleanRealtime.Api.Errors;
using System.Globalization;
using System.Threading.RateLimiting;

namespace CleanRealtime.Api.Security;

public static partial class SecurityRegistration
{
    public const string CreateJobPolicy = "create-job";

    public static IServiceCollection AddSecurity(this IServiceCollection services, IConfiguration configuration)
    {
        var options = SecurityOptions.From(configuration);
        services.AddSingleton(options);
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                {
                    context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                }

                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, type: ProblemTypes.Of(StatusCodes.Status429TooManyRequests), title: "Too many requests.",
                    detail: $"At most {options.CreateJobPerMinute} jobs may be submitted per minute.").ExecuteAsync(context.HttpContext);
            };

            // Partitioned by the verified API key when keys are in use, else by client address (never by a key nobody checked).
            limiter.AddPolicy(CreateJobPolicy, http => options.RateLimitEnabled
                ? RateLimitPartition.GetFixedWindowLimiter(
                    ClientIdentity.Of(http),
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = options.CreateJobPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 })
                : RateLimitPartition.GetNoLimiter("off"));
        });
        return services;
    }

    public static WebApplication UseSecurity(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<SecurityOptions>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CleanRealtime.Security");
        LogSecurity(
            logger,
            options.ApiKeysEnabled ? $"on ({options.ApiKeys.Count} keys)" : "off",
            options.OriginCheckEnabled ? $"on ({string.Join(", ", options.AllowedOrigins)})" : "off",
            options.RateLimitEnabled ? $"{options.CreateJobPerMinute}/min" : "off",
            options.ApiKeysEnabled ? string.Empty : " - open to anyone who can reach this address; set Auth:ApiKeys before exposing it");
        app.UseMiddleware<SecurityMiddleware>();
        app.UseRateLimiter();
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Security: API keys {ApiKeys}, WebSocket origin check {Origins}, job submission rate limit {RateLimit}{Advice}")]
    private static partial void LogSecurity(ILogger logger, string apiKeys, string origins, string rateLimit, string advice);
}
