using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Common;
using CleanRealtime.Domain.Jobs;
using FluentValidation;
using MediatR;

namespace CleanRealtime.Application.MediaLibrary;

/// <summary>
/// Stores an uploaded file (already streaming from the request) in the media library, within the share of uploads of
/// <paramref name="Client"/> (<see cref="UploadShares"/>); null (no client to hold to a share) only for the server itself.
/// </summary>
public sealed record UploadMedia(Stream Content, string? FileName, string? Client = null) : IRequest<MediaFile>;

internal sealed class UploadMediaHandler(IMediaLibrary library, UploadShares shares) : IRequestHandler<UploadMedia, MediaFile>
{
    public async Task<MediaFile> Handle(UploadMedia request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Client is null)
        {
            return await library.AddAsync(request.Content, request.FileName, cancellationToken).ConfigureAwait(false);
        }

        using var ticket = shares.Admit(request.Client);
        await using var counted = new ChargedStream(request.Content, ticket);
        return await library.AddAsync(counted, request.FileName, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The upload's body as the library reads it, every byte charged to the client's day as it arrives.</summary>
    private sealed class ChargedStream(Stream inner, UploadShares.UploadTicket ticket) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            ticket.Charge(read);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            ticket.Charge(read);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>A page of the files under the media root.</summary>
public sealed record ListMedia(int? Limit, string? Cursor) : IRequest<MediaPage>
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;
}

internal sealed class ListMediaValidator : AbstractValidator<ListMedia>
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

internal sealed class ListMediaHandler(IMediaLibrary library) : IRequestHandler<ListMedia, MediaPage>
{
    public Task<MediaPage> Handle(ListMedia request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(library.List(request.Limit ?? ListMedia.DefaultLimit, request.Cursor));
    }
}

/// <summary>One file of the media root, by name.</summary>
public sealed record GetMedia(string Name) : IRequest<MediaFile>;

internal sealed class GetMediaValidator : AbstractValidator<GetMedia>
{
    public GetMediaValidator(IMediaLibrary library) => RuleFor(r => r.Name).MediaName(library);
}

internal sealed class GetMediaHandler(IMediaLibrary library) : IRequestHandler<GetMedia, MediaFile>
{
    public Task<MediaFile> Handle(GetMedia request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(library.Find(request.Name) ?? throw new NotFoundException($"Media '{request.Name}' does not exist."));
    }
}

/// <summary>Deletes a file of the media root, unless a queued or running job uses it (409).</summary>
public sealed record DeleteMedia(string Name) : IRequest<Unit>;

internal sealed class DeleteMediaValidator : AbstractValidator<DeleteMedia>
{
    public DeleteMediaValidator(IMediaLibrary library) => RuleFor(r => r.Name).MediaName(library);
}

internal sealed class DeleteMediaHandler(IMediaLibrary library, IJobRepository repository) : IRequestHandler<DeleteMedia, Unit>
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
