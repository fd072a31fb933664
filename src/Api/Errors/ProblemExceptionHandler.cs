using System.Globalization;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Domain.Common;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace CleanRealtime.Api.Errors;

/// <summary>
/// The one place exceptions become answers (RFC 9457 problem+json): validation → 400 with <c>errors</c> keyed by
/// snake_case field, not found → 404, a broken domain rule → 409, a bad request body → its own 4xx, a busy, locked or
/// unreachable store → 503 with <c>Retry-After</c>. Anything else is a genuine server fault: logged, and a 500 without
/// internals.
/// </summary>
internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails problem = exception switch
        {
            RequestValidationException v => new ValidationProblemDetails(v.Errors.ToDictionary(e => e.Key, e => e.Value))
            {
                Status = StatusCodes.Status400BadRequest, Title = "The request is invalid.",
            },
            NotFoundException n => new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = "Not found.", Detail = n.Message },
            ReplayUnavailableException r => ReplayUnavailable(r),
            DomainRuleException d => new ProblemDetails { Status = StatusCodes.Status409Conflict, Title = "Conflict.", Detail = d.Message },
            CapacityExceededException c => TooManyRequests(httpContext, c),
            PayloadTooLargeException t => new ProblemDetails { Status = StatusCodes.Status413PayloadTooLarge, Title = "The request body is too large.", Detail = t.Message },
            UnsupportedMediaException u => new ProblemDetails { Status = StatusCodes.Status415UnsupportedMediaType, Title = "Unsupported media type.", Detail = u.Message },
            GoneException g => new ProblemDetails { Status = StatusCodes.Status410Gone, Title = "Gone.", Detail = g.Message },
            InsufficientStorageException s => new ProblemDetails { Status = StatusCodes.Status507InsufficientStorage, Title = "Insufficient storage.", Detail = s.Message },
            ServerBusyException b => ServiceUnavailable(httpContext, b),
            BadHttpRequestException b => new ProblemDetails
            {
                Status = b.StatusCode,
                Title = b.StatusCode == StatusCodes.Status413PayloadTooLarge ? "The request body is too large." : "Bad request.",
                Detail = b.StatusCode == StatusCodes.Status413PayloadTooLarge ? "The request body may not exceed 1 MiB." : b.Message,
            },
            JsonException j => new ValidationProblemDetails(new Dictionary<string, string[]>
            {
                [FieldOf(j.Path)] = [Describe(j)],
            })
            {
                Status = StatusCodes.Status400BadRequest, Title = "The request body is malformed.",
            },
            _ when StoreFailures.IsUnavailable(exception) => StoreUnavailable(httpContext, exception),
            _ => null!,
        };

        if (problem is null)
        {
            LogUnhandled(exception, httpContext.Request.Method, httpContext.Request.Path);
            return false;
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>A store that is busy, locked or unreachable: the client may try again shortly (API.md §6).</summary>
    private ProblemDetails StoreUnavailable(HttpContext httpContext, Exception exception)
    {
        LogStoreUnavailable(httpContext.Request.Method, httpContext.Request.Path, exception.GetType().Name, exception.GetBaseException().Message);
        return StoreUnavailableProblem(httpContext);
    }

    /// <summary>The 503 a request gets when the job store is busy, locked, unreachable or did not answer in time.</summary>
    public static ProblemDetails StoreUnavailableProblem(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.Headers.RetryAfter = StoreRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable, Title = "The job store is unavailable.",
            Detail = "The job database is busy or cannot be reached right now; nothing was changed by this request unless it says otherwise. Try again shortly.",
            Extensions = { ["error_code"] = StoreUnavailableCode },
        };
    }

    public const string StoreUnavailableCode = "STORE_UNAVAILABLE";
    public const int StoreRetryAfterSeconds = 5;

    private static ProblemDetails ReplayUnavailable(ReplayUnavailableException exception)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status410Gone, Title = "Replay unavailable.", Detail = exception.Message,
            Extensions = { ["error_code"] = ErrorCodes.ReplayUnavailable, ["first_seq"] = exception.FirstSeq },
        };
        if (exception.Missing is { } missing)
        {
            problem.Extensions["missing_from"] = missing.First;
            problem.Extensions["missing_to"] = missing.Last;
        }

        return problem;
    }

    private static ProblemDetails TooManyRequests(HttpContext httpContext, CapacityExceededException exception)
    {
        httpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(exception.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return new ProblemDetails { Status = StatusCodes.Status429TooManyRequests, Title = "Too many requests.", Detail = exception.Message };
    }

    private static ProblemDetails ServiceUnavailable(HttpContext httpContext, ServerBusyException exception)
    {
        httpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(exception.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return new ProblemDetails { Status = StatusCodes.Status503ServiceUnavailable, Title = "The server is busy.", Detail = exception.Message };
    }

    /// <summary>
    /// What was wrong, in the API's words: the field and where in the body, never the serializer's own message (it names
    /// .NET types such as <c>IReadOnlyList`1[System.String]</c>).
    /// </summary>
    private static string Describe(JsonException exception)
    {
        var field = FieldOf(exception.Path);
        var where = exception.LineNumber is { } line && exception.BytePositionInLine is { } position
            ? string.Create(CultureInfo.InvariantCulture, $" (line {line + 1}, byte {position + 1})")
            : string.Empty;
        return field == "body"
            ? $"The request body must be one JSON object with the job's fields{where}."
            : $"'{field}' is malformed or has the wrong JSON type{where}.";
    }

    /// <summary><c>$.plugins[2]</c> → <c>plugins</c>; the body itself → <c>body</c>.</summary>
    private static string FieldOf(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return "body";
        }

        var field = path.TrimStart('$', '.');
        var cut = field.IndexOfAny(['.', '[']);
        return cut > 0 ? field[..cut] : field.Length > 0 ? field : "body";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: the job store is unavailable ({Error}: {Message})")]
    private partial void LogStoreUnavailable(string method, string path, string error, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path}")]
    private partial void LogUnhandled(Exception exception, string method, string path);
}
