namespace CleanRealtime.Infrastructure.Media;

/// <summary>Where file sources live (configuration section <c>Media</c>).</summary>
public sealed class MediaOptions
{
    public const string SectionName = "Media";

    /// <summary>Folder that file sources are resolved against; relative paths are taken from the working directory.</summary>
    public string Root { get; set; } = "./media";

    /// <summary>The largest upload <c>POST /v1/media</c> accepts, in bytes (default 2 GiB); larger is a 413.</summary>
    public long MaxUploadBytes { get; set; } = 2L * 1024 * 1024 * 1024;
}
