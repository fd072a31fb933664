namespace CleanRealtime.Application.Common;

/// <summary>
/// The server's own capacity for this kind of work is taken by everyone's requests together (not by this client alone,
/// which would be a <see cref="CapacityExceededException"/>). Mapped to 503 with <c>Retry-After</c>.
/// </summary>
public sealed class ServerBusyException(string message, TimeSpan retryAfter) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}
