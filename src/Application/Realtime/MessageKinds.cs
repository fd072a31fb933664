using System.Diagnostics.CodeAnalysis;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using CleanRealtime.Domain.Realtime;
using FluentValidation;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// Every realtime message type, one row each (API.md §3.2): its payload record, its JSON contract, its validator,
/// whether a slow consumer may lose it (§3.5), and the hand-written fast paths of the messages sent per analysed frame.
/// The serializer, the validators and the outbound queue all read this table.
/// </summary>
/// <remarks>
/// <para>A new message type touches three files:</para>
/// <list type="number">
/// <item><c>src/Domain/Realtime/MessageType.cs</c>: the member and its wire name (the switch has no default arm, so a
/// member without a name does not compile);</item>
/// <item><c>src/Domain/Realtime/Payloads.cs</c>: its payload record;</item>
/// <item>this file: a <c>[JsonSerializable]</c> line on <see cref="RealtimeJsonContext"/>, its validator (the schema
/// of §3.2), and its row in <see cref="ByType"/>, in the enum's order. The row names the generated type info, so a
/// missing <c>[JsonSerializable]</c> line does not compile; a missing or misplaced row makes the table's first use
/// throw and fails MessageKindsTests, which also find every payload record, its properties and the fast paths by
/// reflection: no test list to extend.</item>
/// </list>
/// <para>
/// Sending it is the sender's business: <see cref="RealtimeRelay"/> turns a runner event (<c>Execution/Events.cs</c>)
/// into a job's message; the sessions build <c>ping</c> and the welcome <c>metadata</c>.
/// </para>
/// </remarks>
public static class MessageKinds
{
    /// <summary>
    /// The options the contract is written with: snake_case, null left out, enums as snake_case strings, and the
    /// payload's routing properties (<see cref="RealtimePayload.Type"/>, <see cref="RealtimePayload.RoutingJobId"/>) hidden.
    /// </summary>
    private static readonly JsonSerializerOptions ContractOptions = new()
    {
        TypeInfoResolver = RealtimeJsonContext.Default.WithAddedModifier(HideRoutingProperties),
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters =
        {
            new SnakeCaseEnumConverter<PluginRunStatus>(), new SnakeCaseEnumConverter<WarningSeverity>(),
        },
    };

    private static readonly MessageKind[] ByType = InEnumOrder(
    [
        Kind(MessageType.Metadata, RealtimeJsonContext.Default.MetadataPayload, new MetadataPayloadValidator()),
        Kind(MessageType.Progress, RealtimeJsonContext.Default.ProgressPayload, new ProgressPayloadValidator()),
        Kind(MessageType.Frame, RealtimeJsonContext.Default.FramePayload, new FramePayloadValidator(),
            droppable: true, fastCheck: FramePayloadValidator.Passes, fastWriter: MessageSerializer.WriteFrame),
        Kind(MessageType.PartialResult, RealtimeJsonContext.Default.PartialResultPayload, new PartialResultPayloadValidator(),
            droppable: true, fastCheck: PartialResultPayloadValidator.Passes),
        Kind(MessageType.PluginStatus, RealtimeJsonContext.Default.PluginStatusPayload, new PluginStatusPayloadValidator()),
        Kind(MessageType.Warning, RealtimeJsonContext.Default.WarningPayload, new WarningPayloadValidator()),
        Kind(MessageType.Error, RealtimeJsonContext.Default.ErrorPayload, new ErrorPayloadValidator()),
        Kind(MessageType.Ping, RealtimeJsonContext.Default.PingPayload, new PingPayloadValidator()),
        Kind(MessageType.Pong, RealtimeJsonContext.Default.PongPayload, new PongPayloadValidator()),
    ]);

    /// <summary>Every kind, in the order of <see cref="MessageType"/>.</summary>
    internal static IReadOnlyList<MessageKind> All => ByType;

    internal static MessageKind Of(MessageType type) =>
        (uint)type < (uint)ByType.Length ? ByType[(int)type] : throw new ArgumentOutOfRangeException(nameof(type), type, null);

    /// <summary>The kind of a payload, or false when its record is not in the table.</summary>
    internal static bool TryFind(RealtimePayload payload, [NotNullWhen(true)] out MessageKind? kind)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var type = payload.Type;
        kind = (uint)type < (uint)ByType.Length && ByType[(int)type].PayloadType == payload.GetType() ? ByType[(int)type] : null;
        return kind is not null;
    }

    /// <summary>The kind of a payload; a record that is not in the table cannot be written.</summary>
    internal static MessageKind Of(RealtimePayload payload) =>
        TryFind(payload, out var kind) ? kind : throw new NotSupportedException($"'{payload.GetType().Name}' is not a known payload.");

    /// <summary>Per-frame data that a slow consumer may lose; everything else must arrive or the connection closes.</summary>
    public static bool IsDroppable(this MessageType type) => (uint)type < (uint)ByType.Length && ByType[(int)type].Droppable;

    private static MessageKind<T> Kind<T>(
        MessageType type,
        JsonTypeInfo<T> generated,
        IValidator<T> validator,
        bool droppable = false,
        Func<T, bool>? fastCheck = null,
        Action<Utf8JsonWriter, T>? fastWriter = null)
        where T : RealtimePayload =>
        new(type, generated, ContractOptions, validator, droppable, fastCheck, fastWriter);

    private static MessageKind[] InEnumOrder(MessageKind[] kinds)
    {
        var types = Enum.GetValues<MessageType>();
        for (var i = 0; i < Math.Max(types.Length, kinds.Length); i++)
        {
            if (i >= types.Length || i >= kinds.Length || kinds[i].Type != types[i] || (int)types[i] != i)
            {
                throw new InvalidOperationException(
                    $"MessageKinds needs one row per MessageType, in the enum's order: row {i} is "
                    + $"{(i < kinds.Length ? kinds[i].Type.ToString() : "missing")}, the enum has {(i < types.Length ? types[i].ToString() : "no more")}.");
            }
        }

        return kinds;
    }

    private static void HideRoutingProperties(JsonTypeInfo typeInfo)
    {
        if (!typeof(RealtimePayload).IsAssignableFrom(typeInfo.Type))
        {
            return;
        }

        for (var i = typeInfo.Properties.Count - 1; i >= 0; i--)
        {
            if (typeInfo.Properties[i].Name is "type" or "routing_job_id")
            {
                typeInfo.Properties.RemoveAt(i);
            }
        }
    }
}

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

// The payload validators: the schemas of API.md §3.2, enforced before anything is sent.

internal sealed class MetadataPayloadValidator : AbstractValidator<MetadataPayload>
{
    public MetadataPayloadValidator()
    {
        RuleFor(p => p.Plugin).NotEmpty();
        RuleFor(p => p.Metadata).NotNull();
        RuleFor(p => p.Metadata.Version).NotEmpty().When(p => p.Metadata is not null);
        RuleFor(p => p.Metadata.Model).NotEmpty().When(p => p.Metadata is not null);
        RuleFor(p => p.Metadata.InputShape).NotNull().When(p => p.Metadata is not null);
        RuleFor(p => p.Metadata.OutputFormat).NotEmpty().When(p => p.Metadata is not null);
        RuleFor(p => p.Metadata.ConfidenceDefault).InclusiveBetween(0, 1).When(p => p.Metadata is not null);
        RuleFor(p => p.Metadata.Capabilities).NotNull().When(p => p.Metadata is not null);
    }
}

internal sealed class ProgressPayloadValidator : AbstractValidator<ProgressPayload>
{
    public static IReadOnlySet<string> Stages => ProgressStages.All;

    public ProgressPayloadValidator()
    {
        RuleFor(p => p.JobId).NotEmpty();
        RuleFor(p => p.Progress).InclusiveBetween(0, 100);
        RuleFor(p => p.Stage).Must(s => s is null || Stages.Contains(s))
            .WithMessage($"'stage' must be one of {string.Join(", ", Stages)}.");
        RuleFor(p => p.Plugin).NotEmpty().When(p => p.Plugin is not null);
    }
}

internal sealed class FramePayloadValidator : AbstractValidator<FramePayload>
{
    public FramePayloadValidator()
    {
        RuleFor(p => p.JobId).NotEmpty();
        RuleFor(p => p.FrameId).NotEmpty();
        RuleFor(p => p.Plugin).NotEmpty();
        RuleFor(p => p.Data.ValueKind).Equal(JsonValueKind.Object).WithMessage("'data' must be a JSON object.");
        RuleFor(p => p.TimingMs).Must(IsTiming).WithMessage("'timing_ms' must be a finite number >= 0.");
        RuleFor(p => p.DeviceUsed).NotEmpty().When(p => p.DeviceUsed is not null);
    }

    internal static bool IsTiming(double ms) => double.IsFinite(ms) && ms >= 0;

    /// <summary>
    /// The rules above, by hand: what is checked before every frame is sent (one per analysed frame and plugin), without
    /// FluentValidation's allocations. Keep the two in step: MessageKindsTests sets each property to valid and invalid
    /// values and compares the verdicts.
    /// </summary>
    internal static bool Passes(FramePayload p) =>
        p.JobId != Guid.Empty && !string.IsNullOrWhiteSpace(p.FrameId) && !string.IsNullOrWhiteSpace(p.Plugin)
        && p.Data.ValueKind == JsonValueKind.Object && IsTiming(p.TimingMs) && (p.DeviceUsed is null || !string.IsNullOrWhiteSpace(p.DeviceUsed));
}

internal sealed class PartialResultPayloadValidator : AbstractValidator<PartialResultPayload>
{
    public PartialResultPayloadValidator()
    {
        RuleFor(p => p.Plugin).NotEmpty();
        RuleFor(p => p.Result.ValueKind).Equal(JsonValueKind.Object).WithMessage("'result' must be a JSON object.");
        RuleFor(p => p.Partial).Equal(true);
        RuleFor(p => p.JobId).NotEqual(Guid.Empty).When(p => p.JobId is not null);
    }

    /// <summary>The rules above, by hand (see <see cref="FramePayloadValidator.Passes"/>).</summary>
    internal static bool Passes(PartialResultPayload p) =>
        !string.IsNullOrWhiteSpace(p.Plugin) && p.Result.ValueKind == JsonValueKind.Object && p.Partial && p.JobId != Guid.Empty;
}

internal sealed class PluginStatusPayloadValidator : AbstractValidator<PluginStatusPayload>
{
    public PluginStatusPayloadValidator()
    {
        RuleFor(p => p.Plugin).NotEmpty();
        RuleFor(p => p.Status).IsInEnum();
        RuleFor(p => p.TimingMs).Must(FramePayloadValidator.IsTiming).WithMessage("'timing_ms' must be a finite number >= 0.");
        RuleFor(p => p.JobId).NotEqual(Guid.Empty).When(p => p.JobId is not null);
        RuleFor(p => p.FramesProcessed).GreaterThanOrEqualTo(0).When(p => p.FramesProcessed is not null);
        RuleFor(p => p.WarningsCount).GreaterThanOrEqualTo(0).When(p => p.WarningsCount is not null);
    }
}

internal sealed class WarningPayloadValidator : AbstractValidator<WarningPayload>
{
    public WarningPayloadValidator()
    {
        RuleFor(p => p.Plugin).NotEmpty();
        RuleFor(p => p.Message).NotEmpty();
        RuleFor(p => p.Severity).IsInEnum().When(p => p.Severity is not null);
        RuleFor(p => p.FrameId).NotEmpty().When(p => p.FrameId is not null);
        RuleFor(p => p.JobId).NotEqual(Guid.Empty).When(p => p.JobId is not null);
    }
}

internal sealed class ErrorPayloadValidator : AbstractValidator<ErrorPayload>
{
    public static IReadOnlySet<string> Codes => ErrorCodes.All;

    public ErrorPayloadValidator()
    {
        RuleFor(p => p.Error).NotEmpty();
        RuleFor(p => p.Plugin).NotEmpty().When(p => p.Plugin is not null);
        RuleFor(p => p.JobId).NotEqual(Guid.Empty).When(p => p.JobId is not null);
        RuleFor(p => p.Details!.ErrorCode).Must(Codes.Contains).When(p => p.Details is not null)
            .WithMessage($"'details.error_code' must be one of {string.Join(", ", Codes)}.");
        RuleFor(p => p.Details!.Message).NotEmpty().When(p => p.Details is not null);
    }
}

internal sealed class PingPayloadValidator : AbstractValidator<PingPayload>
{
    public PingPayloadValidator() =>
        RuleFor(p => p.IntervalSeconds).GreaterThan(0).When(p => p.IntervalSeconds is not null);
}

internal sealed class PongPayloadValidator : AbstractValidator<PongPayload>
{
    public PongPayloadValidator() => RuleFor(p => p.Timestamp).NotEmpty();
}
