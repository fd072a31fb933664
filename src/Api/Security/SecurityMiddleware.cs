using System.Security.Cryptography;
using System.Text;

namespace CleanRealtime.Api.Security;

/// <summary>
/// When API keys are configured, every <c>/v1</c> request needs one in <c>X-API-Key</c>; the realtime channel also
/// takes it as the <c>api_key</c> query parameter, since browsers cannot set headers on a WebSocket. When allowed
/// origins are configured, a realtime request (WebSocket or SSE) whose <c>Origin</c> is neither one of them nor the
/// server's own (see <see cref="IsOwnOrigin"/>) is refused (403). Health checks and the OpenAPI document stay open.
/// </summary>
internal sealed partial class SecurityMiddleware(RequestDelegate next, SecurityOptions options, ILogger<SecurityMiddleware> logger)
{
    public const string HeaderName = "X-API-Key";
    private readonly byte[][] _keys = [.. options.ApiKeys.Select(Encoding.UTF8.GetBytes)];

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (!path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }

        var realtime = path.StartsWithSegments("/v1/realtime", StringComparison.OrdinalIgnoreCase)
                       && !path.StartsWithSegments("/v1/realtime/stats", StringComparison.OrdinalIgnoreCase);
        if (options.ApiKeysEnabled && !HasValidKey(context, realtime))
        {
            LogRejected(path, "missing or unknown API key");
            context.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{HeaderName}\"";
            await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized.",
                detail: realtime
                    ? $"Send a valid API key in the {HeaderName} header or the api_key query parameter."
                    : $"Send a valid API key in the {HeaderName} header.").ExecuteAsync(context);
            return;
        }

        if (realtime && options.OriginCheckEnabled && context.Request.Headers.Origin is { Count: > 0 } origin
            && !options.AllowedOrigins.Contains(origin.ToString(), StringComparer.OrdinalIgnoreCase)
            && !IsOwnOrigin(context.Request, origin.ToString()))
        {
            LogRejected(path, $"origin {origin} is not allowed");
            await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Origin not allowed.",
                detail: "This origin may not open the realtime channel.").ExecuteAsync(context);
            return;
        }

        await next(context);
    }

    /// <summary>
    /// The page was served by this server (the dashboard at <c>/</c>): its Origin names the host it asked, under a name
    /// that cannot be another site's. A browser cannot forge Origin or Host, but a host name can be re-pointed at this
    /// server (DNS rebinding: a page of evil.example, its name now resolving to this server, sends <c>Host: evil.example</c>
    /// and <c>Origin: http://evil.example</c>), so matching Host alone proves nothing. The Host counts only when it is an
    /// IP address or <c>localhost</c> (no site can take those over) or one of <c>AllowedHosts</c> (which the host filter
    /// enforces). Any other origin must be listed in <c>Realtime:AllowedOrigins</c>.
    /// </summary>
    private bool IsOwnOrigin(HttpRequest request, string origin) =>
        string.Equals(origin, $"{request.Scheme}://{request.Host.Value}", StringComparison.OrdinalIgnoreCase)
        && IsTrustedHostName(request.Host.Host);

    private bool IsTrustedHostName(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || System.Net.IPAddress.TryParse(host.AsSpan().Trim("[]"), out _))
        {
            return true;
        }

        foreach (var allowed in options.AllowedHosts)
        {
            var matches = allowed.StartsWith("*.", StringComparison.Ordinal)
                ? host.EndsWith(allowed[1..], StringComparison.OrdinalIgnoreCase) && host.Length > allowed.Length - 1
                : string.Equals(host, allowed, StringComparison.OrdinalIgnoreCase);
            if (matches)
            {
                return true;
            }
        }

        return false;
    }

    private bool HasValidKey(HttpContext context, bool realtime)
    {
        var presented = context.Request.Headers[HeaderName].ToString();
        if (presented.Length == 0 && realtime)
        {
            presented = context.Request.Query["api_key"].ToString();
        }

        if (presented.Length == 0)
        {
            return false;
        }

        var bytes = Encoding.UTF8.GetBytes(presented);
        var match = false;
        foreach (var key in _keys)
        {
            match |= CryptographicOperations.FixedTimeEquals(bytes, key);
        }

        if (match)
        {
            ClientIdentity.SetVerifiedKey(context, bytes);
        }

        return match;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused {Path}: {Reason}")]
    private partial void LogRejected(PathString path, string reason);
}
