using System.Diagnostics;
using System.Text;

namespace CleanRealtime.Api.Diagnostics;

/// <summary>
/// One Information line per request, with secrets taken out of the query (<c>api_key</c>, which browsers must send in
/// the URL of a WebSocket or EventSource). It replaces ASP.NET Core's own "Request starting" lines, which print the
/// query as it came and are switched off in <see cref="ServerApp"/>.
/// </summary>
internal sealed partial class RequestLogging(RequestDelegate next, ILogger<RequestLogging> logger)
{
    public const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    private static readonly string[] Secrets = ["api_key"];

    public async Task InvokeAsync(HttpContext context)
    {
        if (!logger.IsEnabled(LogLevel.Information))
        {
            await next(context);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            LogRequest(context.Request.Method, context.Request.Path, Redact(context.Request.QueryString), context.Response.StatusCode,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>The query with the value of every secret parameter replaced by <c>***</c>.</summary>
    public static string Redact(QueryString query)
    {
        if (!query.HasValue)
        {
            return string.Empty;
        }

        var redacted = new StringBuilder();
        foreach (var pair in query.Value!.TrimStart('?').Split('&'))
        {
            redacted.Append(redacted.Length == 0 ? '?' : '&');
            var name = pair.Split('=', 2)[0];
            var secret = Secrets.Any(s => string.Equals(Uri.UnescapeDataString(name), s, StringComparison.OrdinalIgnoreCase));
            redacted.Append(secret ? $"{name}=***" : pair);
        }

        return redacted.ToString();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "HTTP {Method} {Path}{Query} answered {Status} in {ElapsedMs:F1} ms")]
    private partial void LogRequest(string method, PathString path, string query, int status, double elapsedMs);
}
