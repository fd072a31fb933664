using System.Text.RegularExpressions;
using CleanRealtime.Application.Media;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>
/// Resolves job sources: <c>synthetic:pitch?…</c> is generated in-process; anything else is a file name relative
/// to the media root, which must stay inside that root.
/// </summary>
public sealed partial class FrameSourceFactory : IFrameSourceFactory
{
    private const int MaxSourceLength = 1024;

    private readonly string _root;

    public FrameSourceFactory(IOptions<MediaOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var root = options.Value.Root;
        if (string.IsNullOrWhiteSpace(root))
        {
            throw new ArgumentException("Media:Root must name a folder.", nameof(options));
        }

        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    /// <summary>The absolute media root that file sources resolve against.</summary>
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

    /// <summary>Null and the absolute path when <paramref name="source"/> names an existing file inside the root, else why not.</summary>
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

        var full = Path.GetFullPath(Path.Combine(_root, source));
        if (!full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return "source resolves outside the media root";
        }

        if (!File.Exists(full))
        {
            return $"source '{source}' was not found under the media root";
        }

        if (ResolvesOutsideRoot(full))
        {
            return "source resolves outside the media root";
        }

        path = full;
        return null;
    }

    /// <summary>True when the file is a symbolic link whose final target lies outside the root.</summary>
    private bool ResolvesOutsideRoot(string full)
    {
        var target = File.ResolveLinkTarget(full, returnFinalTarget: true);
        return target is not null
            && !Path.GetFullPath(target.FullName).StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex SchemePrefix();
}
