namespace CleanRealtime.Infrastructure.Media;

/// <summary>Path resolution the way the kernel does it (<c>realpath(3)</c>), in managed code.</summary>
internal static class MediaPath
{
    /// <summary>Like the kernel's ELOOP limit: a path that needs more links than this is refused.</summary>
    public const int MaxLinks = 40;

    /// <summary>
    /// The absolute path <paramref name="path"/> with every symbolic link resolved, component by component: a link's
    /// target may be relative to the link's folder, absolute, or another link. Null when a component is missing or
    /// cannot be read, a non-folder has components after it, or resolving takes more than <see cref="MaxLinks"/> links.
    /// </summary>
    public static string? ResolveLinks(string path)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            throw new ArgumentException("The path must be absolute.", nameof(path));
        }

        try
        {
            var current = Path.GetPathRoot(path)!;
            var pending = new Stack<string>();
            PushComponents(pending, path[current.Length..]);
            var links = 0;
            while (pending.TryPop(out var name))
            {
                if (name is "." or "..")
                {
                    if (!Directory.Exists(current))
                    {
                        return null;
                    }

                    current = name == ".." ? Path.GetDirectoryName(current) ?? current : current;
                    continue;
                }

                var next = Path.Join(current, name);
                var target = new FileInfo(next).LinkTarget;
                if (target is null)
                {
                    if (!Path.Exists(next))
                    {
                        return null;
                    }

                    current = next;
                    continue;
                }

                if (++links > MaxLinks)
                {
                    return null;
                }

                if (Path.IsPathRooted(target))
                {
                    current = Path.GetPathRoot(target)!;
                    target = target[current.Length..];
                }

                PushComponents(pending, target);
            }

            return current;
        }
        catch (UnauthorizedAccessException)
        {
            // A folder on the way that may not be searched: its contents cannot be resolved.
            return null;
        }
        catch (IOException)
        {
            // A link that cannot be read (e.g. a name too long): the path cannot be resolved.
            return null;
        }
    }

    /// <summary>True when the resolved <paramref name="path"/> lies below the resolved <paramref name="root"/>.</summary>
    public static bool IsInside(string path, string root)
    {
        var prefix = Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar;
        return path.Length > prefix.Length && path.StartsWith(prefix, StringComparison.Ordinal);
    }

    private static void PushComponents(Stack<string> pending, string relative)
    {
        var names = relative.Split(
            [Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);
        for (var i = names.Length - 1; i >= 0; i--)
        {
            pending.Push(names[i]);
        }
    }
}
