using CleanRealtime.Domain.Realtime;
using FluentValidation;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// Makes realtime messages: stamps a payload with the time and checks it against its schema. A message that fails is
/// logged and never sent.
/// </summary>
public sealed partial class RealtimeMessages(IValidator<RealtimeMessage> validator, TimeProvider time, ILogger<RealtimeMessages> logger)
{
    public bool TryCreate(RealtimePayload payload, out RealtimeMessage message)
    {
        ArgumentNullException.ThrowIfNull(payload);
        message = new RealtimeMessage(payload, time.GetUtcNow());
        var result = validator.Validate(message);
        if (result.IsValid)
        {
            return true;
        }

        LogInvalid(payload.Type.ToWire(), result.ToString("; "));
        return false;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped an invalid {Type} message: {Errors}")]
    private partial void LogInvalid(string type, string errors);
}
