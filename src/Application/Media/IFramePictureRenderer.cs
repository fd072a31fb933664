using System.Text.Json;

namespace CleanRealtime.Application.Media;

/// <summary>Draws one frame of a job's source again, as a JPEG, optionally with the job's results on it.</summary>
public interface IFramePictureRenderer
{
    /// <summary>
    /// Decodes frame <paramref name="index"/> (1-based) of <paramref name="source"/>, scales it down to at most
    /// <paramref name="width"/> pixels wide (aspect kept) and draws <paramref name="results"/> (plugin → data) on it.
    /// Throws <see cref="Common.GoneException"/> when the source, or that frame of it, can no longer be read.
    /// </summary>
    byte[] RenderJpeg(string source, int index, IReadOnlyDictionary<string, JsonElement>? results, int? width);
}
