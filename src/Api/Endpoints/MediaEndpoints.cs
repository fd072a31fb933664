using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Mvc;
using CleanRealtime.Api.Errors;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.MediaLibrary;
using FluentValidation.Results;
using MediatR;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace CleanRealtime.Api.Endpoints;

/// <summary>
/// <c>/v1/media</c> (API.md §2.5): uploads, the listing of the media root, one file, deletion.
/// </summary>
/// <remarks>
/// The upload is read with <see cref="MultipartReader"/> straight from the request body rather than bound as an
/// <c>IFormFile</c>: form binding buffers every part (to memory, then to a temp file past 64 KiB) before the endpoint
/// runs, so a 2 GiB upload would be written twice and the size limit could only be checked after the whole body had
/// been read. Here the file part is copied once, in 80 KiB chunks, to its final folder and cut off at the limit.
/// </remarks>
public static partial class MediaEndpoints
{
    /// <summary>Room for the multipart envelope (boundaries, part headers, small fields) beyond the file itself.</summary>
    private const long EnvelopeBytes = 64 * 1024;

    private const string FilePart = "file";

    public static IEndpointRouteBuilder MapMediaEndpoints(this IEndpointRouteBuilder routes)
    {
        var media = routes.MapGroup("/v1/media").WithTags("Media");
        media.MapPost("/", UploadAsync)
            .Accepts<IFormFile>("multipart/form-data")
            .Produces<MediaResponse>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage)
            .DisableAntiforgery()
            .WithName("UploadMedia").WithSummary("Upload a video or image into the media library");
        media.MapGetAndHead("/", ListAsync).WithRequestTimeout(Errors.StoreRequestTimeout.Policy).ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable).WithName("ListMedia").WithSummary("List the media library's files");
        media.MapGetAndHead("/{**name}", GetAsync).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .WithName("GetMedia").WithSummary("Describe one file of the media library");
        media.MapDelete("/{**name}", DeleteAsync)
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .WithName("DeleteMedia").WithSummary("Delete a file from the media library");
        return routes;
    }

    private static async Task<Results<Created<MediaResponse>, ProblemHttpResult, EmptyHttpResult>> UploadAsync(
        HttpRequest request, IMediator mediator, IMediaLibrary library, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type.",
                detail: "Send the file as multipart/form-data with one part named 'file'.");
        }

        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        if (string.IsNullOrWhiteSpace(boundary) || boundary.Length > 70)
        {
            throw Invalid("content_type", "multipart/form-data needs a boundary parameter of 1 to 70 characters.");
        }

        var limit = library.MaxUploadBytes;
        if (request.ContentLength > limit + EnvelopeBytes)
        {
            return TooLarge(limit);
        }

        // Kestrel's own limit (30 MB by default) is lifted for this request only: the library counts the file's bytes
        // and stops at Media:MaxUploadBytes, and the envelope allowance bounds everything around it.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = limit + EnvelopeBytes;
        }

        var reader = new MultipartReader(boundary, request.Body) { HeadersLengthLimit = 16 * 1024, BodyLengthLimit = null };
        try
        {
            while (await NextSectionAsync(reader, request.HttpContext, cancellationToken) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.IsFileDisposition()
                    || !string.Equals(HeaderUtilities.RemoveQuotes(disposition.Name).Value, FilePart, StringComparison.Ordinal))
                {
                    continue;
                }

                var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                await using var body = new RequestBodyStream(section.Body, request.HttpContext);
                var stored = await mediator.Send(new UploadMedia(body, fileName, Security.ClientIdentity.Of(request.HttpContext)), cancellationToken);
                return TypedResults.Created($"/v1/media/{stored.Name}", MediaResponse.From(stored));
            }
        }
        catch (InvalidDataException ex)
        {
            throw Invalid("file", $"The multipart body is malformed: {ex.Message}");
        }
        catch (IOException ex) when (request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away mid-upload: nobody is left to answer, and the library has deleted the partial file.
            LogAborted(loggers.CreateLogger("CleanRealtime.Media"), ex.Message);
            return TypedResults.Empty;
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(limit);
        }

        throw Invalid(FilePart, "The request has no file part named 'file' (a part with Content-Disposition: form-data; name=\"file\"; filename=\"…\").");
    }

    /// <summary>The next part; a body that breaks off or never shows its boundary is the client's error (400), not ours.</summary>
    private static async Task<MultipartSection?> NextSectionAsync(MultipartReader reader, HttpContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadNextSectionAsync(cancellationToken);
        }
        catch (IOException ex) when (!context.RequestAborted.IsCancellationRequested && !RequestBodyStream.IsBodyTooLarge(ex))
        {
            throw new InvalidDataException("it ends before its closing boundary", ex);
        }
    }

    private static async Task<Ok<MediaListResponse>> ListAsync([AsParameters] ListMediaQuery query, IMediator mediator, CancellationToken cancellationToken)
    {
        var page = await mediator.Send(new ListMedia(query.Limit, query.Cursor), cancellationToken);
        return TypedResults.Ok(new MediaListResponse(page.Items.Select(MediaResponse.From).ToList(), page.NextCursor));
    }

    private static async Task<Ok<MediaResponse>> GetAsync(string name, IMediator mediator, CancellationToken cancellationToken) =>
        TypedResults.Ok(MediaResponse.From(await mediator.Send(new GetMedia(Unescape(name)), cancellationToken)));

    private static async Task<NoContent> DeleteAsync(string name, IMediator mediator, CancellationToken cancellationToken)
    {
        await mediator.Send(new DeleteMedia(Unescape(name)), cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// The server decodes every escape in the path except <c>%2F</c>, which it leaves as is so that it cannot split a
    /// segment; the name is checked as the client meant it, so <c>..%2F</c> is the '..' segment it stands for.
    /// </summary>
    private static string Unescape(string name) => name.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    private static ProblemHttpResult TooLarge(long limit) =>
        TypedResults.Problem(
            statusCode: StatusCodes.Status413PayloadTooLarge, type: ProblemTypes.Of(StatusCodes.Status413PayloadTooLarge),
            title: "The upload is too large.", detail: $"An upload may not exceed {limit} bytes (Media:MaxUploadBytes).");

    private static RequestValidationException Invalid(string field, string message) => new([new ValidationFailure(field, message)]);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upload aborted by the client: {Reason}")]
    private static partial void LogAborted(ILogger logger, string reason);
}

/// <summary>
/// A part's body as the library reads it: a read that fails because the multipart body is malformed or cut short (the
/// client still connected) becomes <see cref="InvalidDataException"/>, so that it is answered 400 while a failure to
/// write the file (an <see cref="IOException"/> from the disk) stays a server error.
/// </summary>
internal sealed class RequestBodyStream(Stream inner, HttpContext context) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await inner.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException ex) when (!context.RequestAborted.IsCancellationRequested && !IsBodyTooLarge(ex))
        {
            throw new InvalidDataException("it ends before its closing boundary", ex);
        }
    }

    /// <summary>
    /// Kestrel's body limit (the upload limit plus the envelope allowance) cut the body off: a 413, not a malformed body.
    /// A chunked body has no length to refuse up front, and the multipart reader reads ahead of the file's bytes, so this,
    /// not the library's own count, is often what stops an upload past the limit.
    /// </summary>
    internal static bool IsBodyTooLarge(IOException exception) =>
        exception is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge };

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read the upload asynchronously.");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A file of the media library on the wire (snake_case).</summary>
public sealed record MediaResponse(
    string Name, string Kind, long SizeBytes, int? Frames, double? Fps, int? Width, int? Height, DateTime CreatedAt)
{
    public static MediaResponse From(MediaFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new(file.Name, file.Kind, file.SizeBytes, file.Frames, file.Fps, file.Width, file.Height, file.CreatedAt.UtcDateTime);
    }
}

public sealed record MediaListResponse(IReadOnlyList<MediaResponse> Items, string? NextCursor);

/// <summary>The query of <c>GET /v1/media</c>.</summary>
internal sealed record ListMediaQuery
{
    [FromQuery(Name = "limit"), Range(1, ListMedia.MaxLimit), DefaultValue(ListMedia.DefaultLimit), Description("Files per page.")]
    public int? Limit { get; init; }

    [FromQuery(Name = "cursor"), Description("The next_cursor of the previous page (opaque).")]
    public string? Cursor { get; init; }
}
