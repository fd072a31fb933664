using CleanRealtime.Api.Errors;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using CleanRealtime.Api.Contracts;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.CancelJob;
using CleanRealtime.Application.Jobs.CreateJob;
using CleanRealtime.Application.Jobs.GetFramePicture;
using CleanRealtime.Application.Jobs.GetJobEvents;
using CleanRealtime.Application.Jobs.GetJobFrames;
using CleanRealtime.Application.Jobs.ListJobs;
using MediatR;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace CleanRealtime.Api.Endpoints;

public static class JobEndpoints
{
    public const long MaxBodyBytes = 1024 * 1024;

    public static IEndpointRouteBuilder MapJobEndpoints(this IEndpointRouteBuilder routes)
    {
        var jobs = routes.MapGroup("/v1/jobs").WithTags("Jobs");

        // Every request that needs the store has a time limit; the three that stream a whole job to a client at the
        // speed it reads have none (their store reads are bounded by the store's own command and busy timeouts).
        // Any of them may find the store unavailable (503 STORE_UNAVAILABLE).
        jobs.WithRequestTimeout(Errors.StoreRequestTimeout.Policy).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapPost("/", CreateAsync)
            .Accepts<CreateJobRequest>("application/json")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .RequireRateLimiting(Security.SecurityRegistration.CreateJobPolicy)
            .WithName("CreateJob").WithSummary("Submit a job");
        jobs.MapGetAndHead("/", ListAsync).ProducesValidationProblem().WithName("ListJobs").WithSummary("List jobs, newest first");
        jobs.MapGetAndHead("/{jobId:guid}", GetAsync)
            .Produces<JobResponse>().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).WithName("GetJob").WithSummary("Get a job (the legacy five-field shape)")
            .DisableRequestTimeout();
        jobs.MapGetAndHead("/{jobId:guid}/extended", GetExtendedAsync)
            .Produces<ExtendedJobResponse>().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).WithName("GetExtendedJob").WithSummary("Get a job with its live state")
            .DisableRequestTimeout();
        jobs.MapGetAndHead("/{jobId:guid}/frames", GetFramesAsync).WithName("GetJobFrames").WithSummary("Read a page of a job's analysed frames");
        jobs.MapGetAndHead("/{jobId:guid}/frames/{frameId}/image", GetFramePictureAsync)
            .Produces(StatusCodes.Status200OK, contentType: "image/jpeg")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status410Gone)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithName("GetFramePicture").WithSummary("Get one frame as a JPEG, with the job's results drawn on it");
        jobs.MapGetAndHead("/{jobId:guid}/events", GetEventsAsync)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status410Gone)
            .WithDescription("The job's realtime messages with seq > since, in order (limit 1..1000, default 500).")
            .WithName("GetJobEvents").WithSummary("Read a job's realtime messages after a seq");
        jobs.MapPost("/{jobId:guid}/cancel", CancelAsync)
            .Produces<ExtendedJobResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).WithName("CancelJob").WithSummary("Cancel a job")
            .DisableRequestTimeout();
        return routes;
    }

    private static async Task<Results<Accepted<JobResponse>, ProblemHttpResult>> CreateAsync(
        HttpRequest request, IMediator mediator, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type.",
                detail: "Send the job as application/json.");
        }

        // A declared length over the limit is refused before reading (the server then drains the body, so the
        // client gets its 413 instead of a reset); a chunked body is cut off at the limit while it is read.
        if (request.ContentLength > MaxBodyBytes)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status413PayloadTooLarge, type: ProblemTypes.Of(StatusCodes.Status413PayloadTooLarge), title: "The request body is too large.",
                detail: "The request body may not exceed 1 MiB.");
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        var body = await JsonSerializer.DeserializeAsync<CreateJobRequest>(request.Body, json.Value.SerializerOptions, cancellationToken)
                   ?? throw new JsonException("The request body must be a JSON object.", "$", null, null);
        var job = await mediator.Send(
            new CreateJob(body.Source, body.DeviceRequested, body.Plugins, Security.ClientIdentity.Of(request.HttpContext)), cancellationToken);
        var response = job.ToResponse();
        return TypedResults.Accepted($"/v1/jobs/{response.JobId}", response);
    }

    private static async Task<Ok<JobListResponse>> ListAsync([AsParameters] ListJobsQuery query, IMediator mediator, CancellationToken cancellationToken)
    {
        var page = await mediator.Send(new ListJobs(query.Status, query.Limit, query.Cursor), cancellationToken);
        return TypedResults.Ok(new JobListResponse(page.Items.Select(j => j.ToSummary()).ToList(), page.NextCursor));
    }

    private static Task GetAsync(
        Guid jobId, HttpResponse response, IMediator mediator, ExpensiveReads reads, IOptions<JsonOptions> json, CancellationToken cancellationToken) =>
        JobJsonWriter.WriteAsync(
            response, mediator, jobId, extended: false, StatusCodes.Status200OK, json.Value.SerializerOptions, cancellationToken, reads,
            Security.ClientIdentity.Of(response.HttpContext));

    private static Task GetExtendedAsync(
        Guid jobId, HttpResponse response, IMediator mediator, ExpensiveReads reads, IOptions<JsonOptions> json, CancellationToken cancellationToken) =>
        JobJsonWriter.WriteAsync(
            response, mediator, jobId, extended: true, StatusCodes.Status200OK, json.Value.SerializerOptions, cancellationToken, reads,
            Security.ClientIdentity.Of(response.HttpContext));

    private static async Task<Results<Ok<JobEventsResponse>, NotFound<ProblemDetails>>> GetEventsAsync(
        Guid jobId,
        IMediator mediator,
        [Description("Only messages with a greater seq (0 = from the job's first message; the next_since of the previous page).")] string? since,
        [Description("Messages per page, 1 to 1000 (default 500).")] string? limit,
        CancellationToken cancellationToken) =>
        TypedResults.Ok(JobEventsResponse.From(await mediator.Send(new GetJobEvents(jobId, since, limit), cancellationToken)));

    private static async Task<Results<Ok<JobFramesResponse>, ValidationProblem, NotFound<ProblemDetails>>> GetFramesAsync(
        Guid jobId, [AsParameters] JobFramesQuery query, IMediator mediator, CancellationToken cancellationToken)
    {
        var frames = new GetJobFrames(jobId, query.Offset ?? 0, query.Limit);
        var page = await mediator.Send(frames, cancellationToken);
        var next = frames.Offset + page.Items.Count;
        return TypedResults.Ok(new JobFramesResponse(page.Items.Select(JobMapping.ToResponse).ToList(), page.Total, next < page.Total ? next : null));
    }

    /// <summary>
    /// The frame as a JPEG; <c>overlay</c> (default true) draws the job's results, <c>width</c> scales it down. Decoding
    /// and drawing a frame is an expensive read: it waits for a place in <see cref="ExpensiveReads"/>.
    /// </summary>
    private static async Task<FileContentHttpResult> GetFramePictureAsync(
        Guid jobId, string frameId, [AsParameters] FramePictureQuery query, HttpRequest request, IMediator mediator, ExpensiveReads reads,
        CancellationToken cancellationToken)
    {
        var picture = new GetFramePicture(jobId, frameId, query.Overlay ?? true, query.Width);
        byte[] jpeg;
        using (await reads.EnterAsync(Security.ClientIdentity.Of(request.HttpContext), "a frame picture", cancellationToken))
        {
            jpeg = await mediator.Send(picture, cancellationToken);
        }

        request.HttpContext.Response.Headers.CacheControl = "no-cache";
        return TypedResults.File(jpeg, "image/jpeg");
    }

    /// <summary>202 with the extended job as it stands once the cancel was taken (frames streamed, as for GET).</summary>
    private static async Task CancelAsync(
        Guid jobId, HttpResponse response, IMediator mediator, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        await mediator.Send(new CancelJob(jobId), cancellationToken);
        response.Headers.Location = $"/v1/jobs/{jobId}/extended";
        await JobJsonWriter.WriteAsync(response, mediator, jobId, extended: true, StatusCodes.Status202Accepted, json.Value.SerializerOptions, cancellationToken);
    }
}

/// <summary>The query of <c>GET /v1/jobs</c> (API.md §2.2).</summary>
internal sealed record ListJobsQuery
{
    [FromQuery(Name = "status"), Description("Only jobs in this status: queued, running, completed, failed or cancelled.")]
    public string? Status { get; init; }

    [FromQuery(Name = "limit"), Range(1, ListJobs.MaxLimit), DefaultValue(ListJobs.DefaultLimit), Description("Jobs per page, newest first.")]
    public int? Limit { get; init; }

    [FromQuery(Name = "cursor"), Description("The next_cursor of the previous page (opaque).")]
    public string? Cursor { get; init; }
}

/// <summary>The query of <c>GET /v1/jobs/{job_id}/frames</c>.</summary>
internal sealed record JobFramesQuery
{
    [FromQuery(Name = "offset"), Range(0, int.MaxValue), DefaultValue(0), Description("How many of the job's frames to skip (the next_offset of the previous page).")]
    public int? Offset { get; init; }

    [FromQuery(Name = "limit"), Range(1, GetJobFrames.MaxLimit), DefaultValue(GetJobFrames.DefaultLimit), Description("Frames per page.")]
    public int? Limit { get; init; }
}

/// <summary>The query of <c>GET /v1/jobs/{job_id}/frames/{frame_id}/image</c>.</summary>
internal sealed record FramePictureQuery
{
    [FromQuery(Name = "overlay"), DefaultValue(true), Description("Draw the job's results on the frame.")]
    public bool? Overlay { get; init; }

    [FromQuery(Name = "width"), Range(GetFramePicture.MinWidth, GetFramePicture.MaxWidth), Description("Scale the frame down to this width in pixels (aspect kept; never scaled up).")]
    public int? Width { get; init; }
}
