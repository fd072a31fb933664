using System.Text.Json;

namespace CleanRealtime.Domain.Jobs;

/// <summary>What every plugin found in one frame. <see cref="Results"/> maps plugin name to its data object.</summary>
public sealed record FrameResult(string FrameId, int Index, double TimestampMs, IReadOnlyDictionary<string, JsonElement> Results)
{
    public static string IdFor(int index) => $"frame-{index:D6}";
}
