using System.Text.Json;
using CleanRealtime.Domain.Realtime;
using FluentValidation;
using FluentValidation.Results;

namespace CleanRealtime.Application.Realtime.Validation;

// One validator per payload: the schemas of API.md §3.2, enforced before anything is sent.

public sealed class MetadataPayloadValidator : AbstractValidator<MetadataPayload>
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

public sealed class ProgressPayloadValidator : AbstractValidator<ProgressPayload>
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

public sealed class FramePayloadValidator : AbstractValidator<FramePayload>
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
    /// FluentValidation's allocations. Keep the two in step (PayloadValidationPathTests compares them).
    /// </summary>
    internal static bool Passes(FramePayload p) =>
        p.JobId != Guid.Empty && !string.IsNullOrWhiteSpace(p.FrameId) && !string.IsNullOrWhiteSpace(p.Plugin)
        && p.Data.ValueKind == JsonValueKind.Object && IsTiming(p.TimingMs) && (p.DeviceUsed is null || !string.IsNullOrWhiteSpace(p.DeviceUsed));
}

public sealed class PartialResultPayloadValidator : AbstractValidator<PartialResultPayload>
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

public sealed class PluginStatusPayloadValidator : AbstractValidator<PluginStatusPayload>
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

public sealed class WarningPayloadValidator : AbstractValidator<WarningPayload>
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

public sealed class ErrorPayloadValidator : AbstractValidator<ErrorPayload>
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

public sealed class PingPayloadValidator : AbstractValidator<PingPayload>
{
    public PingPayloadValidator() =>
        RuleFor(p => p.IntervalSeconds).GreaterThan(0).When(p => p.IntervalSeconds is not null);
}

public sealed class PongPayloadValidator : AbstractValidator<PongPayload>
{
    public PongPayloadValidator() => RuleFor(p => p.Timestamp).NotEmpty();
}

/// <summary>
/// The envelope: a known payload that passes its own validator, and a UTC timestamp. <see cref="ValidatePayload"/> runs
/// the same payload rules directly (what the server checks before every send, without the envelope's extra context).
/// </summary>
public sealed class RealtimeMessageValidator : AbstractValidator<RealtimeMessage>
{
    private readonly Dictionary<Type, Func<RealtimePayload, ValidationResult>> _byPayload = [];

    public RealtimeMessageValidator()
    {
        var metadata = Register(new MetadataPayloadValidator());
        var progress = Register(new ProgressPayloadValidator());
        var frame = Register(new FramePayloadValidator());
        var partial = Register(new PartialResultPayloadValidator());
        var status = Register(new PluginStatusPayloadValidator());
        var warning = Register(new WarningPayloadValidator());
        var error = Register(new ErrorPayloadValidator());
        var ping = Register(new PingPayloadValidator());
        var pong = Register(new PongPayloadValidator());
        RuleFor(m => m.Payload).NotNull().SetInheritanceValidator(v => v
            .Add(metadata).Add(progress).Add(frame).Add(partial).Add(status).Add(warning).Add(error).Add(ping).Add(pong));
        RuleFor(m => m.Timestamp.Offset).Equal(TimeSpan.Zero).WithMessage("'timestamp' must be UTC.");
        RuleFor(m => m.Seq).GreaterThanOrEqualTo(1).When(m => m.Seq is not null).WithMessage("'seq' must be an integer >= 1.");
        RuleFor(m => m.Seq).Null().When(m => m.Payload is { RoutingJobId: null })
            .WithMessage("'seq' is only for messages about a job.");
    }

    /// <summary>
    /// Whether a payload passes its schema: <see cref="ValidatePayload"/>'s verdict. Frames and partial results, the
    /// messages sent per analysed frame, are checked by hand with the same rules; the others through FluentValidation.
    /// </summary>
    public bool IsValid(RealtimePayload payload) => payload switch
    {
        FramePayload frame => FramePayloadValidator.Passes(frame),
        PartialResultPayload partial => PartialResultPayloadValidator.Passes(partial),
        _ => ValidatePayload(payload).IsValid,
    };

    /// <summary>Checks a payload against its schema (the rules the envelope applies to it).</summary>
    public ValidationResult ValidatePayload(RealtimePayload payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return _byPayload.TryGetValue(payload.GetType(), out var validate)
            ? validate(payload)
            : new ValidationResult([new ValidationFailure("payload", $"'{payload.GetType().Name}' is not a known payload.")]);
    }

    private IValidator<T> Register<T>(IValidator<T> validator)
        where T : RealtimePayload
    {
        _byPayload[typeof(T)] = payload => validator.Validate((T)payload);
        return validator;
    }
}
