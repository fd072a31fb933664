using Microsoft.AspNetCore.Http.Timeouts;

namespace CleanRealtime.Api.Errors;

/// <summary>
/// The time limit of a request that reads or writes the job store (<c>Storage:RequestTimeout</c>, default 10 s): past it
/// the request's token is cancelled and the client gets the store's 503 problem with <c>Retry-After</c>, never a hang
/// while the database is paused, refusing connections or locked. Streams (realtime, uploads, media downloads) have no
/// such limit; health probes have their own.
/// </summary>
internal static class StoreRequestTimeout
{
    public const string Policy = "store";

    public static IServiceCollection AddStoreRequestTimeout(this IServiceCollection services, IConfiguration configuration)
    {
        var timeout = Infrastructure.Persistence.StoreSettings.RequestTimeout(configuration);
        return services.AddRequestTimeouts(o => o.AddPolicy(Policy, new RequestTimeoutPolicy
        {
            Timeout = timeout,
            TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
            WriteTimeoutResponse = WriteAsync,
        }));
    }

    private static async Task WriteAsync(HttpContext context)
    {
        var problem = ProblemExceptionHandler.StoreUnavailableProblem(context);
        problem.Detail = "The job database did not answer in time; nothing was changed by this request unless it says otherwise. Try again shortly.";
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>()
            .WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }
}
