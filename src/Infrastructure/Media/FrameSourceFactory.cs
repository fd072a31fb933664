using System.Text.RegularExpressions;
using CleanRealtime.Application.Media;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>
/// Resolves job sources: <c>synthetic:pitch?…</c> is generated in-process; anything else is a file name relative
/// to the media root whose real path (every symbolic link of every component resolved) must stay inside that root.
/// </summary>
/// <remarks>
/// The check runs when a job is submitted and again when the job opens the file, which then opens the resolved
/// path, so a link swapped in after submission cannot lead the job outside the root.
/// </remarks>
public sealed partial class FrameSourceFactory : IFrameSourceFactory
{
    private const int MaxSourceLength = 1024;

    private readonly string _root;
    private readonly string _configuredRoot;
    private string? _realRoot;

    public FrameSourceFactory(IOptions<MediaOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var root = options.Value.Root;
        if (string.IsNullOrWhiteSpace(root))
        {
            throw new ArgumentException("Media:Root must name a folder.", nameof(options));
        }

        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));

        // Not GetFullPath: it would fold "link/.." by text, where the file system goes to the link target's parent.
        _configuredRoot = Path.IsPathFullyQualified(root) ? root : Path.Join(Environment.CurrentDirectory, root);
    }

    /// <summary>The configured media root made absolute; sources are checked against it with its links resolved.</summary>
    public string Root => _root;

    public string? Validate(string source)
    {
        if (string.IsNullOrWhiteSpace(source))
        {
            return "source must not be empty";
        }

        if (SyntheticSceneSettings.IsSynthetic(source))
        {
            return SyntheticSceneSettings.TryParse(source, out _, out var syntheticError) ? null : syntheticError;
        }

        return ResolveFile(source, out _);
    }

    public IFrameSource Open(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (SyntheticSceneSettings.IsSynthetic(source))
        {
            return SyntheticSceneSettings.TryParse(source, out var settings, out var syntheticError)
                ? new SyntheticSource(settings)
                : throw new SourceUnreadableException(syntheticError);
        }

        var error = ResolveFile(source, out var path);
        if (error is not null)
        {
            throw new SourceUnreadableException(error);
        }

        return VideoFileSource.Open(path!, source);
    }

    /// <summary>Null and the real path when <paramref name="source"/> names an existing file inside the root, else why not.</summary>
    private string? ResolveFile(string source, out string? path)
    {
        path = null;
        if (source.Length > MaxSourceLength)
        {
            return $"source must be at most {MaxSourceLength} characters";
        }

        if (source.Any(char.IsControl))
        {
            return "source must not contain control characters";
        }

        if (source.Contains('\\', StringComparison.Ordinal))
        {
            return "source must use '/' between folders; backslashes are not allowed";
        }

        if (source.Contains("://", StringComparison.Ordinal) || SchemePrefix().IsMatch(source))
        {
            return "source must be a file name under the media root or 'synthetic:<scene>'; URLs and other schemes are not allowed";
        }

        if (source.StartsWith('/') || source.StartsWith('~') || Path.IsPathRooted(source))
        {
            return "source must be relative to the media root; absolute paths are not allowed";
        }

        if (source.Split('/').Any(segment => segment.Trim() == ".."))
        {
            return "source must not contain '..' segments";
        }

        // Outside the root, missing, unreadable and a link loop all get the same answer, so that the answer never
        // tells whether a file exists somewhere outside the root.
        var root = RealRoot();
        var real = root is null ? null : MediaPath.ResolveLinks(Path.Join(root, source));
        if (real is null || !MediaPath.IsInside(real, root!) || !File.Exists(real))
        {
            return $"source '{source}' was not found under the media root";
        }

        path = real;
        return null;
    }

    /// <summary>
    /// The media root with its own links resolved; cached once the folder exists (a root created later is still found,
    /// and a root that is missing contains nothing).
    /// </summary>
    private string? RealRoot()
    {
        if (Volatile.Read(ref _realRoot) is { } cached)
        {
            return cached;
        }

        var real = MediaPath.ResolveLinks(_configuredRoot);
        if (real is not null && Directory.Exists(real))
        {
            Volatile.Write(ref _realRoot, real);
        }

        return real;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex SchemePrefix();
}
