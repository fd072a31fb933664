using System.Text.Json;
using CleanRealtime.Api.Contracts;
using CleanRealtime.Application.Jobs.CancelJob;
using CleanRealtime.Application.Jobs.CreateJob;
using CleanRealtime.Application.Jobs.GetJob;
using CleanRealtime.Application.Jobs.GetJobEvents;
using CleanRealtime.Application.Jobs.ListJobs;
using MediatR;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Api.Endpoints;

public static class JobEndpoints
{
    public const long MaxBodyBytes = 1024 * 1024;

    public static IEndpointRouteBuilder MapJobEndpoints(this IEndpointRouteBuilder routes)
    {
        var jobs = routes.MapGroup("/v1/jobs").WithTags("Jobs");
        jobs.MapPost("/", CreateAsync)
            .Accepts<CreateJobRequest>("application/json")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .RequireRateLimiting(Security.SecurityRegistration.CreateJobPolicy)
            .WithName("CreateJob");
        jobs.MapGet("/", ListAsync).ProducesValidationProblem().WithName("ListJobs");
        jobs.MapGet("/{jobId:guid}", GetAsync).WithName("GetJob");
        jobs.MapGet("/{jobId:guid}/extended", GetExtendedAsync).WithName("GetExtendedJob");
        jobs.MapGet("/{jobId:guid}/events", GetEventsAsync)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status410Gone)
            .WithDescription("The job's realtime messages with seq > since, in order (limit 1..1000, default 500).")
            .WithName("GetJobEvents");
        jobs.MapPost("/{jobId:guid}/cancel", CancelAsync).ProducesProblem(StatusCodes.Status409Conflict).WithName("CancelJob");
        return routes;
    }

    private static async Task<Results<Accepted<JobResponse>, ProblemHttpResult>> CreateAsync(
        HttpRequest request, IMediator mediator, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken cancellationToken)
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
                statusCode: StatusCodes.Status413PayloadTooLarge, title: "The request body is too large.",
                detail: "The request body may not exceed 1 MiB.");
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        var body = await JsonSerializer.DeserializeAsync<CreateJobRequest>(request.Body, json.Value.SerializerOptions, cancellationToken)
                   ?? throw new JsonException("The request body must be a JSON object.", "$", null, null);
        var job = await mediator.Send(new CreateJob(body.Source, body.DeviceRequested, body.Plugins), cancellationToken);
        var response = job.ToResponse();
        return TypedResults.Accepted($"/v1/jobs/{response.JobId}", response);
    }

    private static async Task<Ok<JobListResponse>> ListAsync(
        IMediator mediator, string? status, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        var page = await mediator.Send(new ListJobs(status, limit, cursor), cancellationToken);
        return TypedResults.Ok(new JobListResponse(page.Items.Select(j => j.ToSummary()).ToList(), page.NextCursor));
    }

    private static async Task<Results<Ok<JobResponse>, NotFound<ProblemDetails>>> GetAsync(
        Guid jobId, IMediator mediator, CancellationToken cancellationToken) =>
        TypedResults.Ok((await mediator.Send(new GetJob(jobId), cancellationToken)).ToResponse());

    private static async Task<Results<Ok<ExtendedJobResponse>, NotFound<ProblemDetails>>> GetExtendedAsync(
        Guid jobId, IMediator mediator, CancellationToken cancellationToken) =>
        TypedResults.Ok((await mediator.Send(new GetJob(jobId), cancellationToken)).ToExtendedResponse());

    private static async Task<Results<Ok<JobEventsResponse>, NotFound<ProblemDetails>>> GetEventsAsync(
        Guid jobId, IMediator mediator, string? since, string? limit, CancellationToken cancellationToken) =>
        TypedResults.Ok(JobEventsResponse.From(await mediator.Send(new GetJobEvents(jobId, since, limit), cancellationToken)));

    private static async Task<Results<Accepted<ExtendedJobResponse>, NotFound<ProblemDetails>, Conflict<ProblemDetails>>> CancelAsync(
        Guid jobId, IMediator mediator, CancellationToken cancellationToken)
    {
        var job = await mediator.Send(new CancelJob(jobId), cancellationToken);
        return TypedResults.Accepted($"/v1/jobs/{jobId}/extended", job.ToExtendedResponse());
    }
}
