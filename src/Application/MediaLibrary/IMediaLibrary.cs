namespace CleanRealtime.Application.MediaLibrary;

/// <summary>One decodable file under the media root, as <c>/v1/media</c> describes it.</summary>
/// <param name="Name">The file's path relative to the media root, with '/' between folders: what a job's source takes.</param>
/// <param name="Kind"><c>video</c> or <c>image</c>.</param>
/// <param name="Frames">The container's frame count (1 for an image), null when the container does not say.</param>
/// <param name="Fps">Frames per second, null for an image or when the container does not say.</param>
/// <param name="Width">Null when the file could not be decoded (listed, but a job would fail on it).</param>
public sealed record MediaFile(
    string Name,
    string Kind,
    long SizeBytes,
    int? Frames,
    double? Fps,
    int? Width,
    int? Height,
    DateTimeOffset CreatedAt);

/// <summary>A page of the media root's files in name order; <see cref="NextCursor"/> continues it, null at the end.</summary>
public sealed record MediaPage(IReadOnlyList<MediaFile> Items, string? NextCursor);

/// <summary>The files under the media root: uploads stored and checked, listed, described and deleted.</summary>
public interface IMediaLibrary
{
    /// <summary>The largest upload accepted, in bytes (<c>Media:MaxUploadBytes</c>).</summary>
    long MaxUploadBytes { get; }

    /// <summary>
    /// Streams <paramref name="content"/> to a new file under <c>uploads/</c> with a server-chosen name and the extension
    /// of <paramref name="fileName"/>, and keeps it only if OpenCV decodes it. Throws <see cref="Common.PayloadTooLargeException"/>
    /// past <see cref="MaxUploadBytes"/>, <see cref="Common.UnsupportedMediaException"/> for an unknown type or undecodable
    /// content, <see cref="Common.RequestValidationException"/> for an empty file; nothing is left on disk when it throws.
    /// </summary>
    Task<MediaFile> AddAsync(Stream content, string? fileName, CancellationToken cancellationToken);

    /// <summary>Null when <paramref name="name"/> is a well-formed media name (relative, no '..', no scheme), else why not.</summary>
    string? CheckName(string name);

    /// <summary>The file <paramref name="name"/> names inside the root, or null when there is none.</summary>
    MediaFile? Find(string name);

    /// <summary>Up to <paramref name="limit"/> files in ordinal name order after <paramref name="cursor"/>.</summary>
    MediaPage List(int limit, string? cursor);

    /// <summary>True when <paramref name="cursor"/> is one this library handed out (or null).</summary>
    bool IsValidCursor(string? cursor);

    /// <summary>True when the job source <paramref name="source"/> resolves to the same file as the media name <paramref name="name"/>.</summary>
    bool RefersTo(string source, string name);

    /// <summary>Deletes the file <paramref name="name"/> names; false when there is none.</summary>
    bool Delete(string name);
}
