namespace CleanRealtime.Infrastructure.Media;

/// <summary>How many bytes the volume holding a path has free for this process (statvfs on Linux).</summary>
public sealed class DiskSpace(Func<string, long> availableBytes)
{
    public static DiskSpace System { get; } = new(path => new DriveInfo(path).AvailableFreeSpace);

    public long AvailableBytes(string path) => availableBytes(path);
}
