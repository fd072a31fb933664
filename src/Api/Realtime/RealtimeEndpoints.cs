using System.ComponentModel;
using Microsoft.AspNetCore.Mvc;
using CleanRealtime.Api.Errors;
using System.Net.WebSockets;
using CleanRealtime.Api.Security;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Application.Realtime.Subscribe;
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
            .WithSummary("Open a realtime stream (WebSocket or Server-Sent Events)")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .WithDescription(
                "WebSocket upgrade, or Server-Sent Events with Accept: text/event-stream. A WebSocket is refused after the upgrade with a "
                + "close code (4000 invalid session_id or since, 4001 capacity, 4004 unknown job_id); an event stream with the matching "
                + "problem (400, 429, 404). SSE also resumes from the Last-Event-ID header.");
        return routes;
    }

    private static async Task HandleAsync(
        [AsParameters] RealtimeQuery query, HttpContext context, RealtimeSessions manager, IMediator mediator, JobHistory history, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("CleanRealtime.Realtime");
        if (context.WebSockets.IsWebSocketRequest)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await RunWebSocketAsync(query, context, socket, manager, mediator, history, logger);
        }
        else if (context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase)))
        {
            await RunEventStreamAsync(query, context, manager, mediator, history);
        }
        else
        {
            await Results.Problem(
                statusCode: StatusCodes.Status400BadRequest, title: "Not a realtime request.",
                detail: "Open /v1/realtime as a WebSocket, or send Accept: text/event-stream for Server-Sent Events.").ExecuteAsync(context);
        }
    }

    private static async Task RunWebSocketAsync(
        RealtimeQuery query, HttpContext context, WebSocket socket, RealtimeSessions manager, IMediator mediator, JobHistory history, ILogger logger)
    {
        var subscription = await ResolveAsync(query, context, mediator, eventStream: false);
        if (subscription.RefusalCode != 0)
        {
            LogRefused(logger, subscription.RefusalCode, subscription.RefusalReason!);
            await RefuseAsync(socket, subscription.RefusalCode, subscription.RefusalReason!, manager.Options.CloseTimeout);
            return;
        }

        var plan = subscription.Plan!;
        var registration = manager.TryAdd(
            new WebSocketTransport(socket, context.Features.Get<CoalescingStream>()), plan.JobId, subscription.SessionId, plan.Welcome, ClientIdentity.Of(context), ReplayOf(plan, history, manager));
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

    private static async Task RunEventStreamAsync(
        RealtimeQuery query, HttpContext context, RealtimeSessions manager, IMediator mediator, JobHistory history)
    {
        var subscription = await ResolveAsync(query, context, mediator, eventStream: true);
        if (subscription.RefusalCode != 0)
        {
            await RefusalProblem(subscription).ExecuteAsync(context);
            return;
        }

        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();

        var plan = subscription.Plan!;
        var registration = manager.TryAdd(
            new SseTransport(context), plan.JobId, subscription.SessionId, plan.Welcome, ClientIdentity.Of(context), ReplayOf(plan, history, manager));
        if (registration.Connection is not { } connection)
        {
            context.Response.Headers.Remove("Content-Type");
            await RefusalProblem(Subscription.Refused(registration.RefusalCode, registration.RefusalReason!)).ExecuteAsync(context);
            return;
        }

        // No explicit StartAsync: the connection's writer owns the response body from here (a PipeWriter takes one
        // writer), and its first flush, of the welcome messages, sends the headers.
        using (context.RequestAborted.Register(() => connection.Abort("the client went away")))
        {
            await connection.Completion;
        }
    }

    private static Replay? ReplayOf(SubscriptionPlan plan, JobHistory history, RealtimeSessions manager) =>
        plan is { JobId: { } jobId, ReplayAfter: { } after }
            ? new Replay(
                after,
                (afterSeq, token) => history.ReadForSubscriberAsync(jobId, afterSeq, manager.Options.EventLogBatchSize, token),
                async (upTo, token) => await history.RangeAsync(jobId, token) is { Ended: true } range && range.LastSeq <= upTo)
            : null;

    /// <summary>
    /// The query (<c>session_id</c>, <c>job_id</c>, <c>since</c>) and, for SSE, <c>Last-Event-ID</c>, turned into a
    /// subscription plan by <see cref="Subscribe"/>, or a refusal: 4000 invalid session_id or since, 4004 unknown job.
    /// A parameter given twice arrives joined with a comma, which is never a UUID; <c>since</c> is counted in the query.
    /// </summary>
    private static async Task<Subscription> ResolveAsync(RealtimeQuery query, HttpContext context, IMediator mediator, bool eventStream)
    {
        Guid? sessionId = null;
        if (query.SessionId is { } session)
        {
            if (!Guid.TryParse(session, out var parsed))
            {
                return Subscription.Invalid("session_id", "invalid session_id: it must be one UUID");
            }

            sessionId = parsed;
        }

        Guid? jobId = null;
        if (query.JobId is { } job)
        {
            if (!Guid.TryParse(job, out var parsed))
            {
                return Subscription.Refused(4004, "unknown job_id");
            }

            jobId = parsed;
        }

        if (context.Request.Query["since"].Count > 1)
        {
            return Subscription.Invalid("since", "invalid since: give it once");
        }

        // An EventSource reconnects to the same URL with Last-Event-ID: the header is newer than the query's since. On a
        // stream of every job the ids belong to many jobs, so there is nothing to resume and the header is ignored.
        var resumeFrom = query.Since;
        if (eventStream && jobId is not null && context.Request.Headers["Last-Event-ID"] is [{ } lastEventId])
        {
            resumeFrom = lastEventId;
        }

        try
        {
            var plan = await mediator.Send(new Subscribe(jobId, resumeFrom), context.RequestAborted);
            return new Subscription(sessionId, plan, 0, null, null);
        }
        catch (NotFoundException)
        {
            return Subscription.Refused(4004, "unknown job_id");
        }
        catch (RequestValidationException invalid)
        {
            return new Subscription(null, null, 4000, "invalid since: " + string.Join(" ", invalid.Errors.SelectMany(e => e.Value)), invalid.Errors);
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

    /// <summary>The HTTP problem of a refused event stream; a bad parameter is a validation problem titled after that parameter.</summary>
    private static IResult RefusalProblem(Subscription refusal) => refusal switch
    {
        { Errors: { Count: > 0 } errors } => Results.ValidationProblem(
            errors.ToDictionary(e => e.Key, e => e.Value), title: $"Invalid {errors.Keys.First()}.", detail: refusal.RefusalReason),
        { RefusalCode: 4004 } => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown job.", detail: refusal.RefusalReason),
        _ => Results.Problem(
            statusCode: StatusCodes.Status429TooManyRequests, type: ProblemTypes.Of(StatusCodes.Status429TooManyRequests), title: "Capacity exceeded.",
            detail: refusal.RefusalReason),
    };

    private sealed record Subscription(
        Guid? SessionId, SubscriptionPlan? Plan, int RefusalCode, string? RefusalReason, IReadOnlyDictionary<string, string[]>? Errors)
    {
        public static Subscription Refused(int code, string reason) => new(null, null, code, reason, null);

        /// <summary>A bad query parameter: 4000 on a WebSocket, a 400 naming <paramref name="parameter"/> on SSE.</summary>
        public static Subscription Invalid(string parameter, string reason) =>
            new(null, null, 4000, reason, new Dictionary<string, string[]> { [parameter] = [reason] });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Realtime connection refused with {Code}: {Reason}")]
    private static partial void LogRefused(ILogger logger, int code, string reason);
}

/// <summary>
/// The query of <c>/v1/realtime</c>, bound as text: a bad value is refused after the WebSocket upgrade with a close code
/// (or, on SSE, with the matching problem), never with the framework's 400 before it, so <c>ResolveAsync</c> reads it.
/// </summary>
internal sealed record RealtimeQuery
{
    [FromQuery(Name = "job_id"), Description("Receive only this job's messages (a UUID); unknown: close code 4004 or 404.")]
    public string? JobId { get; init; }

    [FromQuery(Name = "session_id"), Description("The client's session (a UUID it chose), which its per-session quota counts; invalid: close code 4000 or 400.")]
    public string? SessionId { get; init; }

    [FromQuery(Name = "since"), Description("With job_id: resume the job's stream after this seq (0 = from its first message).")]
    public string? Since { get; init; }
}
