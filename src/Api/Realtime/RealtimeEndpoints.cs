using CleanRealtime.Api.Errors;
using System.Net.WebSockets;
using CleanRealtime.Api.Security;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.GetJob;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Realtime;
using MediatR;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// <c>/v1/realtime</c>: a WebSocket upgrade, or Server-Sent Events with <c>Accept: text/event-stream</c> (API.md §3).
/// WebSocket refusals are close codes after the upgrade (4000 session, 4001 capacity, 4004 job); SSE refusals are the
/// matching HTTP problems (400, 429, 404) since an event stream has no close code.
/// </summary>
public static partial class RealtimeEndpoints
{
    public static IEndpointRouteBuilder MapRealtimeEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/v1/realtime", HandleAsync)
            .WithTags("Realtime")
            .WithName("Realtime")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithDescription("WebSocket upgrade, or Server-Sent Events with Accept: text/event-stream. Query: job_id, session_id.");
        return routes;
    }

    private static async Task HandleAsync(
        HttpContext context, ConnectionManager manager, IMediator mediator, PluginCatalog catalog, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("CleanRealtime.Realtime");
        if (context.WebSockets.IsWebSocketRequest)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await RunWebSocketAsync(context, socket, manager, mediator, catalog, logger);
        }
        else if (context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase)))
        {
            await RunEventStreamAsync(context, manager, mediator, catalog);
        }
        else
        {
            await Results.Problem(
                statusCode: StatusCodes.Status400BadRequest, title: "Not a realtime request.",
                detail: "Open /v1/realtime as a WebSocket, or send Accept: text/event-stream for Server-Sent Events.").ExecuteAsync(context);
        }
    }

    private static async Task RunWebSocketAsync(
        HttpContext context, WebSocket socket, ConnectionManager manager, IMediator mediator, PluginCatalog catalog, ILogger logger)
    {
        var subscription = await ResolveAsync(context, mediator);
        if (subscription.RefusalCode != 0)
        {
            LogRefused(logger, subscription.RefusalCode, subscription.RefusalReason!);
            await RefuseAsync(socket, subscription.RefusalCode, subscription.RefusalReason!, manager.Options.CloseTimeout);
            return;
        }

        var registration = manager.TryAdd(
            new WebSocketTransport(socket), subscription.JobId, subscription.SessionId, Welcome(subscription.Job, catalog, manager),
            ClientIdentity.Of(context));
        if (registration.Connection is not { } connection)
        {
            LogRefused(logger, registration.RefusalCode, registration.RefusalReason!);
            await RefuseAsync(socket, registration.RefusalCode, registration.RefusalReason!, manager.Options.CloseTimeout);
            return;
        }

        var receiving = WebSocketReceiver.RunAsync(manager, connection, socket, context.RequestAborted);
        await connection.Completion;
        try
        {
            // The writer has sent its close (or the socket broke); give the client a moment to answer the handshake.
            await receiving.WaitAsync(manager.Options.CloseTimeout);
        }
        catch (TimeoutException)
        {
            socket.Abort();
        }
    }

    private static async Task RunEventStreamAsync(HttpContext context, ConnectionManager manager, IMediator mediator, PluginCatalog catalog)
    {
        var subscription = await ResolveAsync(context, mediator);
        if (subscription.RefusalCode != 0)
        {
            await RefusalProblem(subscription.RefusalCode, subscription.RefusalReason!).ExecuteAsync(context);
            return;
        }

        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();

        var registration = manager.TryAdd(new SseTransport(context), subscription.JobId, subscription.SessionId,
            Welcome(subscription.Job, catalog, manager), ClientIdentity.Of(context));
        if (registration.Connection is not { } connection)
        {
            context.Response.Headers.Remove("Content-Type");
            await RefusalProblem(registration.RefusalCode, registration.RefusalReason!).ExecuteAsync(context);
            return;
        }

        // No explicit StartAsync: the connection's writer owns the response body from here (a PipeWriter takes one
        // writer), and its first flush, of the welcome messages, sends the headers.
        using (context.RequestAborted.Register(() => connection.Abort("the client went away")))
        {
            await connection.Completion;
        }
    }

    private static async Task<Subscription> ResolveAsync(HttpContext context, IMediator mediator)
    {
        Guid? sessionId = null;
        var session = context.Request.Query["session_id"];
        if (session.Count > 0)
        {
            if (session.Count > 1 || !Guid.TryParse(session[0], out var parsed))
            {
                return Subscription.Refused(4000, "invalid session_id: it must be one UUID");
            }

            sessionId = parsed;
        }

        var job = context.Request.Query["job_id"];
        if (job.Count == 0)
        {
            return new Subscription(null, sessionId, null, 0, null);
        }

        if (job.Count > 1 || !Guid.TryParse(job[0], out var jobId))
        {
            return Subscription.Refused(4004, "unknown job_id");
        }

        try
        {
            var state = await mediator.Send(new GetJob(jobId), context.RequestAborted);
            return new Subscription(jobId, sessionId, state, 0, null);
        }
        catch (NotFoundException)
        {
            return Subscription.Refused(4004, "unknown job_id");
        }
    }

    /// <summary>On accept: one metadata message per plugin, a ping, and the progress of a job that has started.</summary>
    private static IEnumerable<RealtimePayload> Welcome(JobMemento? job, PluginCatalog catalog, ConnectionManager manager)
    {
        var plugins = job is null ? catalog.All : job.Plugins.Where(catalog.Contains).Select(catalog.Get);
        foreach (var plugin in plugins)
        {
            yield return plugin.ToMetadataPayload();
        }

        yield return new PingPayload((int)Math.Ceiling(manager.Options.PingInterval.TotalSeconds));
        if (job is { Status: not JobStatus.Queued })
        {
            yield return new ProgressPayload(
                job.Id, job.Progress ?? 0, job.Status == JobStatus.Running ? "analyzing" : job.Status.ToWire());
        }
    }

    private static async Task RefuseAsync(WebSocket socket, int code, string reason, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await socket.CloseAsync((WebSocketCloseStatus)code, reason, deadline.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            socket.Abort();
        }
    }

    private static IResult RefusalProblem(int code, string reason) => code switch
    {
        4000 => Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid session_id.", detail: reason),
        4004 => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown job.", detail: reason),
        _ => Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, type: ProblemTypes.Of(StatusCodes.Status429TooManyRequests), title: "Capacity exceeded.", detail: reason),
    };

    private sealed record Subscription(Guid? JobId, Guid? SessionId, JobMemento? Job, int RefusalCode, string? RefusalReason)
    {
        public static Subscription Refused(int code, string reason) => new(null, null, null, code, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Realtime connection refused with {Code}: {Reason}")]
    private static partial void LogRefused(ILogger logger, int code, string reason);
}
