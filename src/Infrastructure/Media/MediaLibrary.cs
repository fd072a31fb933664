using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.MediaLibrary;
using FluentValidation.Results;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>
/// The media root as a library: uploads are streamed to a hidden temporary file in <c>uploads/</c>, opened with OpenCV
/// (the same <see cref="VideoFileSource"/> a job uses, so a file accepted here is one a job can read), then renamed to
/// <c>uploads/&lt;uuid&gt;&lt;ext&gt;</c>; names are checked and resolved exactly like job sources (<see cref="FrameSourceFactory"/>).
/// </summary>
/// <remarks>
/// The temporary file is deleted on every way out that does not keep it: too large, undecodable, an I/O error, the
/// client going away mid-upload. It sits beside its final name so that the rename is atomic (same file system), and
/// its name starts with '.' so that listings never show a half-written file.
/// </remarks>
public sealed partial class MediaLibrary : IMediaLibrary
{
    public const string UploadFolder = "uploads";

    /// <summary>How the name of an upload still being received starts (hidden from listings; leftovers are swept).</summary>
    public const string PartPrefix = ".part-";

    /// <summary>While an upload is copied, the free space of the media volume is measured again after this many bytes.</summary>
    private const long MeasureEveryBytes = 8 * 1024 * 1024;

    private const int CopyBufferBytes = 81920;
    private const int MaxCachedProbes = 4096;

    private static readonly HashSet<string> VideoExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts",
    };

    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp",
    };

    private readonly FrameSourceFactory _sources;
    private readonly DiskSpace _disk;
    private readonly long _minFreeBytes;
    private readonly ILogger<MediaLibrary> _logger;
    private readonly ConcurrentDictionary<(string Path, long Length, DateTime Written), Probe> _probes = new();

    public MediaLibrary(FrameSourceFactory sources, IOptions<MediaOptions> options, ILogger<MediaLibrary> logger, DiskSpace? disk = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _sources = sources;
        _logger = logger;
        _disk = disk ?? DiskSpace.System;
        _minFreeBytes = options.Value.MinFreeBytes >= 0
            ? options.Value.MinFreeBytes
            : throw new ArgumentException("Media:MinFreeBytes must be 0 (off) or positive.", nameof(options));
        MaxUploadBytes = options.Value.MaxUploadBytes > 0
            ? options.Value.MaxUploadBytes
            : throw new ArgumentException("Media:MaxUploadBytes must be positive.", nameof(options));
    }

    public long MaxUploadBytes { get; }

    public async Task<MediaFile> AddAsync(Stream content, string? fileName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var extension = Path.GetExtension(fileName ?? string.Empty).ToLowerInvariant();
        if (!VideoExtensions.Contains(extension) && !ImageExtensions.Contains(extension))
        {
            throw new UnsupportedMediaException(
                $"The file name must end with a video or image extension OpenCV reads ({string.Join(", ", VideoExtensions.Concat(ImageExtensions).Order(StringComparer.Ordinal))}).");
        }

        var folder = UploadsFolder();
        var id = Guid.NewGuid().ToString("N");
        EnsureRoom(folder, 0);
        var temporary = Path.Join(folder, $"{PartPrefix}{id}{extension}");
        var final = Path.Join(folder, id + extension);
        var kept = false;
        try
        {
            var size = await CopyBoundedAsync(content, temporary, folder, cancellationToken).ConfigureAwait(false);
            if (size == 0)
            {
                throw new RequestValidationException([new ValidationFailure("file", "The file is empty.")]);
            }

            var probe = ProbeFile(temporary, $"{UploadFolder}/{id}{extension}");
            if (probe.Error is not null)
            {
                throw new UnsupportedMediaException($"The file is not a video or image OpenCV can decode: {probe.Error}");
            }

            File.Move(temporary, final);
            kept = true;
            var name = $"{UploadFolder}/{id}{extension}";
            LogStored(name, size, probe.Kind, probe.Frames);
            return Describe(name, new FileInfo(final), probe);
        }
        finally
        {
            if (!kept)
            {
                DeleteQuietly(temporary);
            }
        }
    }

    public string? CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return FrameSourceFactory.CheckName(name)?.Replace("source ", "name ", StringComparison.Ordinal);
    }

    public MediaFile? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (CheckName(name) is not null || !IsMediaName(name) || _sources.Resolve(name) is not { } path)
        {
            return null;
        }

        var file = new FileInfo(path);
        return Describe(name, file, ProbeCached(file, name));
    }

    public MediaPage List(int limit, string? cursor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var after = cursor is null ? null : DecodeCursor(cursor);
        if (_sources.RealRoot() is not { } root || !Directory.Exists(root))
        {
            return new MediaPage([], null);
        }

        // Names in ordinal order are stable across calls and pages; a file added or removed between pages moves nothing else.
        var names = Directory.EnumerateFiles(root, "*", new EnumerationOptions
            {
                RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
                ReturnSpecialDirectories = false,
            })
            .Select(path => Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(name => IsMediaName(name) && !name.Split('/').Any(segment => segment.StartsWith('.')))
            .Where(name => after is null || string.CompareOrdinal(name, after) > 0)
            .Order(StringComparer.Ordinal);

        var items = new List<MediaFile>(Math.Min(limit, 256));
        string? last = null;
        var more = false;
        foreach (var name in names)
        {
            if (items.Count == limit)
            {
                more = true;
                break;
            }

            last = name;
            if (Find(name) is { } found)
            {
                items.Add(found);
            }
        }

        return new MediaPage(items, more && last is not null ? EncodeCursor(last) : null);
    }

    public bool IsValidCursor(string? cursor) => cursor is null || DecodeCursor(cursor) is not null;

    public bool RefersTo(string source, string name)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (SyntheticSceneSettings.IsSynthetic(source) || FrameSourceFactory.CheckName(source) is not null || CheckName(name) is not null)
        {
            return false;
        }

        var target = _sources.Resolve(name);
        return target is not null && string.Equals(_sources.Resolve(source), target, StringComparison.Ordinal);
    }

    public bool Delete(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (CheckName(name) is not null || _sources.Resolve(name) is not { } path)
        {
            return false;
        }

        try
        {
            File.Delete(path);
        }
        catch (FileNotFoundException)
        {
            return false;
        }

        LogDeleted(name);
        return true;
    }

    private static bool IsMediaName(string name)
    {
        var extension = Path.GetExtension(name);
        return VideoExtensions.Contains(extension) || ImageExtensions.Contains(extension);
    }

    /// <summary><c>&lt;root&gt;/uploads</c>, created when missing; refused when it leads outside the root (a link).</summary>
    private string UploadsFolder()
    {
        var configured = Path.Join(_sources.Root, UploadFolder);
        Directory.CreateDirectory(configured);
        var root = _sources.RealRoot();
        var real = MediaPath.ResolveLinks(configured);
        if (root is null || real is null || !MediaPath.IsInside(real, root))
        {
            throw new InvalidOperationException("The uploads folder of the media root resolves outside the media root.");
        }

        return real;
    }

    /// <summary>
    /// Free bytes the media volume has beyond <c>Media:MinFreeBytes</c>; throws <see cref="InsufficientStorageException"/>
    /// when writing <paramref name="bytes"/> more would go below it (or it is reached already).
    /// </summary>
    private long EnsureRoom(string folder, long bytes)
    {
        if (_minFreeBytes == 0)
        {
            return long.MaxValue;
        }

        var room = _disk.AvailableBytes(folder) - _minFreeBytes;
        if (room <= 0 || room < bytes)
        {
            LogDiskFloor(_minFreeBytes);
            throw new InsufficientStorageException(string.Create(
                CultureInfo.InvariantCulture,
                $"The server keeps at least {_minFreeBytes} bytes free on its media volume (Media:MinFreeBytes) and has no room for this upload; try again when files have been deleted."));
        }

        return room;
    }

    private async Task<long> CopyBoundedAsync(Stream content, string path, string folder, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        try
        {
            await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.Asynchronous);
            long total = 0, measuredAt = 0;
            var room = EnsureRoom(folder, 0);
            int read;
            while ((read = await content.ReadAsync(buffer.AsMemory(0, CopyBufferBytes), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > MaxUploadBytes)
                {
                    throw new PayloadTooLargeException(string.Create(
                        CultureInfo.InvariantCulture, $"An upload may not exceed {MaxUploadBytes} bytes (Media:MaxUploadBytes)."));
                }

                // Other uploads and jobs use the volume too: measure again now and then, and before writing past the room.
                if (read > room || total - measuredAt >= MeasureEveryBytes)
                {
                    room = EnsureRoom(folder, read);
                    measuredAt = total;
                }

                room -= read;
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }

            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private Probe ProbeCached(FileInfo file, string name)
    {
        var key = (file.FullName, file.Length, file.LastWriteTimeUtc);
        if (_probes.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var probe = ProbeFile(file.FullName, name);
        if (_probes.Count >= MaxCachedProbes)
        {
            _probes.Clear();
        }

        _probes[key] = probe;
        return probe;
    }

    /// <summary>Opens the file as a job would (truncation check, first frame decoded); the error says why not.</summary>
    private Probe ProbeFile(string path, string name)
    {
        try
        {
            using var source = VideoFileSource.Open(path, name);
            return source.IsStill
                ? new Probe("image", 1, null, source.Width, source.Height, null)
                : new Probe("video", source.FrameCount, source.Fps > 0 ? Math.Round(source.Fps, 3) : null, source.Width, source.Height, null);
        }
        catch (SourceUnreadableException ex)
        {
            LogUndecodable(name, ex.Message);
            return new Probe(KindOf(name), null, null, null, null, ex.Message);
        }
    }

    private static string KindOf(string name) => ImageExtensions.Contains(Path.GetExtension(name)) ? "image" : "video";

    private static MediaFile Describe(string name, FileInfo file, Probe probe) => new(
        name, probe.Kind, file.Length, probe.Frames, probe.Fps, probe.Width, probe.Height,
        new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));

    private void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException ex)
        {
            LogCleanupFailed(ex, path);
        }
        catch (UnauthorizedAccessException ex)
        {
            LogCleanupFailed(ex, path);
        }
    }

    private static string EncodeCursor(string name) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(name)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? DecodeCursor(string cursor)
    {
        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        var bytes = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, bytes, out var length))
        {
            return null;
        }

        try
        {
            var name = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, length);
            return name.Length > 0 && FrameSourceFactory.CheckName(name) is null ? name : null;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private sealed record Probe(string Kind, int? Frames, double? Fps, int? Width, int? Height, string? Error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored upload {Name}: {SizeBytes} bytes, {Kind}, {Frames} frames")]
    private partial void LogStored(string name, long sizeBytes, string kind, int? frames);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted media {Name}")]
    private partial void LogDeleted(string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media {Name} cannot be decoded: {Reason}")]
    private partial void LogUndecodable(string name, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload refused: the media volume is down to its floor of {MinFreeBytes} free bytes (Media:MinFreeBytes)")]
    private partial void LogDiskFloor(long minFreeBytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not delete the temporary upload {Path}")]
    private partial void LogCleanupFailed(Exception exception, string path);
}
