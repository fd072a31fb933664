using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>
/// Removes the half-written files (<c>uploads/.part-*</c>) of uploads that a crash or a kill cut off: at start, and then
/// every <see cref="Interval"/>. A file still being received is written to every few seconds (Kestrel drops a body
/// slower than 240 bytes/s), so only files nobody has written to for <see cref="Grace"/> are taken: an upload in
/// progress on another node sharing the media root is left alone.
/// </summary>
internal sealed partial class UploadLeftoverSweeper(FrameSourceFactory sources, TimeProvider time, ILogger<UploadLeftoverSweeper> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan Grace = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            do
            {
                Sweep();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down; the next start sweeps again.
        }
    }

    /// <summary>Deletes the leftovers older than <see cref="Grace"/>; how many.</summary>
    public int Sweep()
    {
        var folder = Path.Join(sources.Root, MediaLibrary.UploadFolder);
        if (!Directory.Exists(folder))
        {
            return 0;
        }

        var before = (time.GetUtcNow() - Grace).UtcDateTime;
        var removed = 0;
        foreach (var file in new DirectoryInfo(folder).EnumerateFiles(MediaLibrary.PartPrefix + "*", new EnumerationOptions { AttributesToSkip = 0 }))
        {
            if (file.LastWriteTimeUtc >= before)
            {
                continue;
            }

            try
            {
                var bytes = file.Length;
                file.Delete();
                LogRemoved(file.Name, bytes);
                removed++;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogRemoveFailed(ex, file.FullName);
            }
        }

        return removed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removed {Name} ({Bytes} bytes), left behind by an upload that was cut off")]
    private partial void LogRemoved(string name, long bytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not remove the leftover upload {Path}")]
    private partial void LogRemoveFailed(Exception exception, string path);
}
