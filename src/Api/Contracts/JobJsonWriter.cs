using System.Runtime.CompilerServices;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.GetJob;
using CleanRealtime.Application.Jobs.GetJobFrames;
using MediatR;

namespace CleanRealtime.Api.Contracts;

/// <summary>
/// Writes a <see cref="JobResponse"/> or <see cref="ExtendedJobResponse"/> to the response body with its frames streamed
/// a page at a time: however many frames a job has, one response holds at most a page of them in memory, and a slow
/// reader holds back the next page (the body's flush waits for it) instead of making the server buffer the rest.
/// The other fields come from the DTOs themselves, so the shapes and their rules stay exactly those of the records.
/// </summary>
internal static class JobJsonWriter
{
    /// <summary>Frames per page read from the job and flushed to the client.</summary>
    public const int PageSize = 500;

    /// <summary>
    /// Reads the job (404 when unknown, before anything is written), then writes it. The extended fields are read after
    /// the frames, so they are at least as new as the last frame written. With <paramref name="reads"/>, a job of more
    /// than <see cref="ReadsOptions.LargeJobFrames"/> frames is written only in a place of that limiter (429 or 503
    /// before anything is written when there is none for <paramref name="client"/>).
    /// </summary>
    public static async Task WriteAsync(
        HttpResponse response, IMediator mediator, Guid jobId, bool extended, int statusCode, JsonSerializerOptions options,
        CancellationToken cancellationToken, ExpensiveReads? reads = null, string? client = null)
    {
        var head = (await mediator.Send(new GetJob(jobId), cancellationToken)).ToResponse();
        var first = await mediator.Send(new GetJobFrames(jobId, 0, PageSize), cancellationToken);
        using var place = reads is not null && reads.IsLargeJob(first.Total)
            ? await reads.EnterAsync(client ?? string.Empty, $"a job of {first.Total} frames", cancellationToken)
            : null;
        response.StatusCode = statusCode;
        response.ContentType = "application/json; charset=utf-8";

        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        writer.WriteStartObject();
        var written = new HashSet<string>(StringComparer.Ordinal);
        using (var fields = JsonSerializer.SerializeToDocument(head, options))
        {
            foreach (var field in fields.RootElement.EnumerateObject())
            {
                written.Add(field.Name);
                if (field.NameEquals("frames"))
                {
                    writer.WritePropertyName(field.Name);
                    await WriteFramesAsync(writer, response, Pages(mediator, jobId, first, cancellationToken), options, cancellationToken);
                }
                else
                {
                    field.WriteTo(writer);
                }
            }
        }

        if (extended)
        {
            var state = (await mediator.Send(new GetJob(jobId), cancellationToken)).ToSummary();
            using var fields = JsonSerializer.SerializeToDocument(ExtendedJobResponse.From(head, state), options);
            foreach (var field in fields.RootElement.EnumerateObject().Where(f => !written.Contains(f.Name)))
            {
                field.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
    }

    private static async Task WriteFramesAsync(
        Utf8JsonWriter writer, HttpResponse response, IAsyncEnumerable<IReadOnlyList<FrameResponse>> pages, JsonSerializerOptions options,
        CancellationToken cancellationToken)
    {
        writer.WriteStartArray();
        await foreach (var page in pages)
        {
            foreach (var frame in page)
            {
                JsonSerializer.Serialize(writer, frame, options);
            }

            await writer.FlushAsync(cancellationToken);
            await response.BodyWriter.FlushAsync(cancellationToken);
        }

        writer.WriteEndArray();
    }

    /// <summary>
    /// The job's frames, page by page from the <paramref name="first"/> one already read, until a page comes back short
    /// (a running job may still be adding some).
    /// </summary>
    private static async IAsyncEnumerable<IReadOnlyList<FrameResponse>> Pages(
        IMediator mediator, Guid jobId, FramePage first, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var offset = 0;
        var page = first;
        while (true)
        {
            if (offset > 0)
            {
                page = await mediator.Send(new GetJobFrames(jobId, offset, PageSize), cancellationToken);
            }

            yield return page.Items.Select(JobMapping.ToResponse).ToList();
            offset += page.Items.Count;
            if (page.Items.Count < PageSize)
            {
                yield break;
            }
        }
    }
}
