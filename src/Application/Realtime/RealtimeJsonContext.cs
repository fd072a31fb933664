using System.Text.Json;
using System.Text.Json.Serialization;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.Application.Realtime;

internal sealed class SnakeCaseEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.SnakeCaseLower)
    where TEnum : struct, Enum;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(SnakeCaseEnumConverter<PluginRunStatus>), typeof(SnakeCaseEnumConverter<WarningSeverity>)])]
[JsonSerializable(typeof(MetadataPayload))]
[JsonSerializable(typeof(ProgressPayload))]
[JsonSerializable(typeof(FramePayload))]
[JsonSerializable(typeof(PartialResultPayload))]
[JsonSerializable(typeof(PluginStatusPayload))]
[JsonSerializable(typeof(WarningPayload))]
[JsonSerializable(typeof(ErrorPayload))]
[JsonSerializable(typeof(PingPayload))]
[JsonSerializable(typeof(PongPayload))]
internal sealed partial class RealtimeJsonContext : JsonSerializerContext;
