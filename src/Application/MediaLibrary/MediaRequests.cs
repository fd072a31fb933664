using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Common;
using CleanRealtime.Domain.Jobs;
using FluentValidation;
using MediatR;

namespace CleanRealtime.Application.MediaLibrary;

/// <summary>Stores an uploaded file (already streaming from the request) in the media library.</summary>
public sealed record UploadMedia(Stream Content, string? FileName) : IRequest<MediaFile>;

public sealed class UploadMediaHandler(IMediaLibrary library) : IRequestHandler<UploadMedia, MediaFile>
{
    public Task<MediaFile> Handle(UploadMedia request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return library.AddAsync(request.Content, request.FileName, cancellationToken);
    }
}

/// <summary>A page of the files under the media root.</summary>
public sealed record ListMedia(int? Limit, string? Cursor) : IRequest<MediaPage>
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;
}

public sealed class ListMediaValidator : AbstractValidator<ListMedia>
{
    public ListMediaValidator(IMediaLibrary library)
    {
        RuleFor(r => r.Limit)
            .InclusiveBetween(1, ListMedia.MaxLimit).When(r => r.Limit is not null)
            .WithMessage($"'limit' must be between 1 and {ListMedia.MaxLimit}.").OverridePropertyName("limit");
        RuleFor(r => r.Cursor)
            .Must(library.IsValidCursor).WithMessage("'cursor' is not a cursor this server returned.").OverridePropertyName("cursor");
    }
}

public sealed class ListMediaHandler(IMediaLibrary library) : IRequestHandler<ListMedia, MediaPage>
{
    public Task<MediaPage> Handle(ListMedia request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(library.List(request.Limit ?? ListMedia.DefaultLimit, request.Cursor));
    }
}

/// <summary>One file of the media root, by name.</summary>
public sealed record GetMedia(string Name) : IRequest<MediaFile>;

public sealed class GetMediaValidator : AbstractValidator<GetMedia>
{
    public GetMediaValidator(IMediaLibrary library) => RuleFor(r => r.Name).MediaName(library);
}

public sealed class GetMediaHandler(IMediaLibrary library) : IRequestHandler<GetMedia, MediaFile>
{
    public Task<MediaFile> Handle(GetMedia request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(library.Find(request.Name) ?? throw new NotFoundException($"Media '{request.Name}' does not exist."));
    }
}

/// <summary>Deletes a file of the media root, unless a queued or running job uses it (409).</summary>
public sealed record DeleteMedia(string Name) : IRequest<Unit>;

public sealed class DeleteMediaValidator : AbstractValidator<DeleteMedia>
{
    public DeleteMediaValidator(IMediaLibrary library) => RuleFor(r => r.Name).MediaName(library);
}

public sealed class DeleteMediaHandler(IMediaLibrary library, IJobRepository repository) : IRequestHandler<DeleteMedia, Unit>
{
    public async Task<Unit> Handle(DeleteMedia request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (library.Find(request.Name) is null)
        {
            throw new NotFoundException($"Media '{request.Name}' does not exist.");
        }

        // Compared by the file each source resolves to, so "./uploads/a.mp4" or a link to it counts as a use too.
        var unfinished = await repository.ListUnfinishedAsync(cancellationToken).ConfigureAwait(false);
        if (unfinished.FirstOrDefault(j => library.RefersTo(j.Source, request.Name)) is { } user)
        {
            throw new DomainRuleException($"Media '{request.Name}' is used by {user.Status.ToWire()} job {user.Id}; delete it when that job has ended.");
        }

        if (!library.Delete(request.Name))
        {
            throw new NotFoundException($"Media '{request.Name}' does not exist.");
        }

        return Unit.Value;
    }
}

internal static class MediaNameRules
{
    public static IRuleBuilderOptions<T, string> MediaName<T>(this IRuleBuilder<T, string> rule, IMediaLibrary library) =>
        rule.Must(name => library.CheckName(name) is null)
            .WithMessage((_, name) => library.CheckName(name) ?? string.Empty)
            .OverridePropertyName("name");
}
