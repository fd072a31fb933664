using System.Diagnostics.CodeAnalysis;
using CleanRealtime.Domain.Realtime;
using FluentValidation;
using FluentValidation.Results;

namespace CleanRealtime.Application.Realtime.Validation;

/// <summary>
/// The envelope: a known payload that passes its own validator (each kind's, from <see cref="MessageKinds"/>), and a UTC
/// timestamp. <see cref="ValidatePayload"/> runs the same payload rules directly (what the server checks before every
/// send, without the envelope's extra context).
/// </summary>
internal sealed class RealtimeMessageValidator : AbstractValidator<RealtimeMessage>
{
    public RealtimeMessageValidator()
    {
        RuleFor(m => m.Payload).NotNull().SetInheritanceValidator(payload =>
        {
            foreach (var kind in MessageKinds.All)
            {
                kind.AddTo(payload);
            }
        });
        RuleFor(m => m.Timestamp.Offset).Equal(TimeSpan.Zero).WithMessage("'timestamp' must be UTC.");
        RuleFor(m => m.Seq).GreaterThanOrEqualTo(1).When(m => m.Seq is not null).WithMessage("'seq' must be an integer >= 1.");
        RuleFor(m => m.Seq).Null().When(m => m.Payload is { RoutingJobId: null })
            .WithMessage("'seq' is only for messages about a job.");
    }

    /// <summary>
    /// Whether a payload passes its schema: <see cref="ValidatePayload"/>'s verdict. Frames and partial results, the
    /// messages sent per analysed frame, are checked by hand with the same rules; the others through FluentValidation.
    /// </summary>
    [SuppressMessage("Performance", "CA1822", Justification = "Part of the injected validator's surface; the rules live in MessageKinds.")]
    public bool IsValid(RealtimePayload payload) => MessageKinds.TryFind(payload, out var kind) && kind.IsValid(payload);

    /// <summary>Checks a payload against its schema (the rules the envelope applies to it).</summary>
    [SuppressMessage("Performance", "CA1822", Justification = "Part of the injected validator's surface; the rules live in MessageKinds.")]
    public ValidationResult ValidatePayload(RealtimePayload payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return MessageKinds.TryFind(payload, out var kind)
            ? kind.Validate(payload)
            : new ValidationResult([new ValidationFailure("payload", $"'{payload.GetType().Name}' is not a known payload.")]);
    }
}
