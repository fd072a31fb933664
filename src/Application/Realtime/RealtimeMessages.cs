using CleanRealtime.Application.Realtime.Validation;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// Makes realtime messages: stamps a payload with the time and checks it against its schema. A message that fails is
/// logged and never sent.
/// </summary>
public sealed partial class RealtimeMessages(RealtimeMessageValidator validator, TimeProvider time, ILogger<RealtimeMessages> logger)
{
    public bool TryCreate(RealtimePayload payload, out RealtimeMessage message)
    {
        ArgumentNullException.ThrowIfNull(payload);
        message = new RealtimeMessage(payload, time.GetUtcNow());
        if (validator.IsValid(payload) && message.Timestamp.Offset == TimeSpan.Zero)
        {
            return true;
        }

        // The slow path only for a message that fails: FluentValidation says why.
        var result = validator.ValidatePayload(payload);
        LogInvalid(payload.Type.ToWire(), result.IsValid ? "'timestamp' must be UTC." : result.ToString("; "));
        return false;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped an invalid {Type} message: {Errors}")]
    private partial void LogInvalid(string type, string errors);
}
