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
        var result = validator.ValidatePayload(payload);
        if (result.IsValid && message.Timestamp.Offset == TimeSpan.Zero)
        {
            return true;
        }

        LogInvalid(payload.Type.ToWire(), result.IsValid ? "'timestamp' must be UTC." : result.ToString("; "));
        return false;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped an invalid {Type} message: {Errors}")]
    private partial void LogInvalid(string type, string errors);
}
