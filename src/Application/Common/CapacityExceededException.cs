namespace CleanRealtime.Application.Common;

/// <summary>A limit that protects the server's share for everyone was reached. Mapped to 429 with <c>Retry-After</c>.</summary>
public sealed class CapacityExceededException(string message, TimeSpan retryAfter) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}
