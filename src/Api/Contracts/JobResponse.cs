using System.Text.Json;

namespace CleanRealtime.Api.Contracts;

/// <summary>The legacy job shape (<c>GET /v1/jobs/{id}</c>): exactly these five fields. Frozen: never add to it.</summary>
public sealed record JobResponse
{
    public required string JobId { get; init; }
    public required string DeviceRequested { get; init; }
    public required string DeviceUsed { get; init; }
    public required bool Fallback { get; init; }
    public required IReadOnlyList<FrameResponse> Frames { get; init; }
}

/// <summary>One analysed frame: every plugin's result, keyed by plugin name.</summary>
public sealed record FrameResponse(string FrameId, int Index, double TimestampMs, IReadOnlyDictionary<string, JsonElement> Results);
