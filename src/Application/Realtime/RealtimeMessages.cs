using CleanRealtime.Application.Realtime.Validation;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// Makes realtime messages: stamps a payload with the time and checks it against its schema. A message that fails is
/// logged and never sent. The schema is <see cref="RealtimeMessageValidator"/>'s (stateless: its rules live in
/// <see cref="MessageKinds"/>).
/// </summary>
public sealed partial class RealtimeMessages(TimeProvider time, ILogger<RealtimeMessages> logger)
{
    private readonly RealtimeMessageValidator _validator = new();

    public bool TryCreate(RealtimePayload payload, out RealtimeMessage message)
    {
        ArgumentNullException.ThrowIfNull(payload);
        message = new RealtimeMessage(payload, time.GetUtcNow());
        if (_validator.IsValid(payload) && message.Timestamp.Offset == TimeSpan.Zero)
        {
            return true;
        }

        // The slow path only for a message that fails: FluentValidation says why.
        var result = _validator.ValidatePayload(payload);
        LogInvalid(payload.Type.ToWire(), result.IsValid ? "'timestamp' must be UTC." : result.ToString("; "));
        return false;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped an invalid {Type} message: {Errors}")]
    private partial void LogInvalid(string type, string errors);
}
