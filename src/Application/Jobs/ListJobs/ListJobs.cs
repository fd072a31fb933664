using System.Buffers.Text;
using System.Globalization;
using System.Text;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using FluentValidation;
using MediatR;

namespace CleanRealtime.Application.Jobs.ListJobs;

/// <summary>Newest jobs first, optionally of one status, a page at a time (frames left out).</summary>
public sealed record ListJobs(string? Status, int? Limit, string? Cursor) : IRequest<JobPage>
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;
}

public sealed record JobPage(IReadOnlyList<JobMemento> Items, string? NextCursor);

internal sealed class ListJobsValidator : AbstractValidator<ListJobs>
{
    public ListJobsValidator()
    {
        RuleFor(r => r.Status)
            .Must(s => s is null || JobStatusExtensions.TryParseWire(s, out _))
            .WithMessage($"'status' must be one of {string.Join(", ", JobStatusExtensions.WireNames)}.")
            .OverridePropertyName("status");
        RuleFor(r => r.Limit)
            .InclusiveBetween(1, ListJobs.MaxLimit).When(r => r.Limit is not null)
            .WithMessage($"'limit' must be between 1 and {ListJobs.MaxLimit}.")
            .OverridePropertyName("limit");
        RuleFor(r => r.Cursor)
            .Must(c => c is null || JobCursor.TryDecode(c, out _))
            .WithMessage("'cursor' is not a cursor this API returned.")
            .OverridePropertyName("cursor");
    }
}

internal sealed class ListJobsHandler(IJobRepository repository, LiveJobs live) : IRequestHandler<ListJobs, JobPage>
{
    public async Task<JobPage> Handle(ListJobs request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        JobStatus? status = JobStatusExtensions.TryParseWire(request.Status, out var parsed) ? parsed : null;
        JobCursor.TryDecode(request.Cursor, out var after);
        var limit = request.Limit ?? ListJobs.DefaultLimit;

        var rows = await repository.ListAsync(status, limit + 1, after, cancellationToken).ConfigureAwait(false);
        var page = rows.Take(limit)
            .Select(row => live.TryGet(row.Id, out var running) ? running.Snapshot(includeFrames: false) : row)
            .ToList();
        var next = rows.Count > limit ? JobCursor.Encode(new JobPageCursor(page[^1].CreatedAt, page[^1].Id)) : null;
        return new JobPage(page, next);
    }
}

/// <summary>An opaque, URL-safe page cursor: the creation time and id of the last job of a page.</summary>
internal static class JobCursor
{
    public static string Encode(JobPageCursor cursor)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        var text = string.Create(CultureInfo.InvariantCulture, $"{cursor.CreatedAt.UtcTicks}:{cursor.Id:N}");
        return Base64Url.EncodeToString(Encoding.ASCII.GetBytes(text));
    }

    public static bool TryDecode(string? value, out JobPageCursor? cursor)
    {
        cursor = null;
        if (string.IsNullOrEmpty(value) || value.Length > 128)
        {
            return false;
        }

        try
        {
            var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(value)).Split(':');
            if (parts.Length == 2
                && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTimeOffset.MaxValue.UtcTicks
                && Guid.TryParseExact(parts[1], "N", out var id))
            {
                cursor = new JobPageCursor(new DateTimeOffset(ticks, TimeSpan.Zero), id);
                return true;
            }
        }
        catch (FormatException)
        {
            // Not base64url: not one of ours.
        }

        return false;
    }
}
