namespace CleanRealtime.Infrastructure.Media;

/// <summary>Where file sources live (configuration section <c>Media</c>).</summary>
public sealed class MediaOptions
{
    public const string SectionName = "Media";

    /// <summary>Folder that file sources are resolved against; relative paths are taken from the working directory.</summary>
    public string Root { get; set; } = "./media";

    /// <summary>The largest upload <c>POST /v1/media</c> accepts, in bytes (default 2 GiB); larger is a 413.</summary>
    public long MaxUploadBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>
    /// Free space the media volume keeps (<c>Media:MinFreeBytes</c>, default 1 GiB; 0 = off): an upload that would leave
    /// less is refused with 507, or cut off with 507 when it reaches the floor while it is received.
    /// </summary>
    public long MinFreeBytes { get; set; } = 1024L * 1024 * 1024;
}
