using System.Globalization;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Media;
using CleanRealtime.Domain.Jobs;
using FluentValidation;
using MediatR;

namespace CleanRealtime.Application.Jobs.GetFramePicture;

/// <summary>
/// One analysed frame of a job as a JPEG: decoded again from the job's source, with the job's results for that frame
/// drawn on it when <see cref="Overlay"/> is set, scaled down to <see cref="Width"/>.
/// </summary>
public sealed record GetFramePicture(Guid JobId, string FrameId, bool Overlay = true, int? Width = null) : IRequest<byte[]>
{
    public const int MinWidth = 16;
    public const int MaxWidth = 3840;
}

internal sealed class GetFramePictureValidator : AbstractValidator<GetFramePicture>
{
    public GetFramePictureValidator() =>
        RuleFor(r => r.Width)
            .InclusiveBetween(GetFramePicture.MinWidth, GetFramePicture.MaxWidth).When(r => r.Width is not null)
            .WithMessage($"'width' must be between {GetFramePicture.MinWidth} and {GetFramePicture.MaxWidth}.")
            .OverridePropertyName("width");
}

internal sealed class GetFramePictureHandler(LiveJobs live, IJobRepository repository, IFramePictureRenderer renderer)
    : IRequestHandler<GetFramePicture, byte[]>
{
    private const string FramePrefix = "frame-";

    /// <summary>The longest frame id a 404 repeats whole (the bound of a media name).</summary>
    public const int MaxEchoedLength = 1024;

    public async Task<byte[]> Handle(GetFramePicture request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var index = IndexOf(request.FrameId) ?? throw NoSuchFrame(request);

        string source;
        FramePage? page;
        if (live.TryGet(request.JobId, out var running))
        {
            source = running.Snapshot(includeFrames: false).Source;
            page = running.Frames(index - 1, 1);
        }
        else
        {
            source = (await repository.FindStateAsync(request.JobId, cancellationToken).ConfigureAwait(false)
                      ?? throw new NotFoundException($"Job {request.JobId} does not exist.")).Source;
            page = await repository.ReadFramesAsync(request.JobId, index - 1, 1, cancellationToken).ConfigureAwait(false);
        }

        // Frames are recorded in order from 1, so frame n sits at position n-1; the id check guards that assumption.
        if (page?.Items is not [var frame] || !string.Equals(frame.FrameId, request.FrameId, StringComparison.Ordinal))
        {
            throw NoSuchFrame(request);
        }

        return renderer.RenderJpeg(source, index, request.Overlay ? frame.Results : null, request.Width);
    }

    /// <summary>
    /// The 404 of a frame id the job does not have. The id is echoed up to <see cref="MaxEchoedLength"/> characters, as a
    /// media name is (a longer one is cut, with its length), so a client cannot make the server repeat kilobytes back.
    /// </summary>
    private static NotFoundException NoSuchFrame(GetFramePicture request)
    {
        var id = request.FrameId;
        var echoed = id.Length <= MaxEchoedLength
            ? $"'{id}'"
            : string.Create(CultureInfo.InvariantCulture, $"'{id.AsSpan(0, MaxEchoedLength)}…' ({id.Length} characters)");
        return new NotFoundException($"Job {request.JobId} has no frame {echoed}.");
    }

    /// <summary><c>frame-000042</c> → 42; null for anything that is not a frame id.</summary>
    private static int? IndexOf(string frameId) =>
        frameId.StartsWith(FramePrefix, StringComparison.Ordinal)
        && int.TryParse(frameId.AsSpan(FramePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
        && index >= 1
        && string.Equals(FrameResult.IdFor(index), frameId, StringComparison.Ordinal)
            ? index
            : null;
}
