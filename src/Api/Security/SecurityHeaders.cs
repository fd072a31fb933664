namespace CleanRealtime.Api.Security;

/// <summary>
/// Headers on every response, the dashboard's and the API's alike (errors included: they are set as the headers go out,
/// after the exception handler has cleared the response). The Content-Security-Policy lets a page run only the
/// dashboard's own script and style files (no inline script or style, no other origin), talk only to this server
/// (fetch, WebSocket), show only its own images and the frame pictures it fetched (<c>blob:</c>), and be framed by
/// nobody, so the <i>Cancel job</i> and <i>Delete file</i> buttons cannot be clickjacked (<c>X-Frame-Options</c> for older
/// browsers). <c>nosniff</c> keeps a browser from running a served file as something it is not.
/// </summary>
public static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; font-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use((context, next) =>
        {
            context.Response.OnStarting(Apply, context.Response);
            return next(context);
        });
    }

    private static Task Apply(object state)
    {
        var headers = ((HttpResponse)state).Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        return Task.CompletedTask;
    }
}
