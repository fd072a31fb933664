namespace CleanRealtime.Application.Common;

/// <summary>The thing asked for does not exist. Mapped to 404.</summary>
public sealed class NotFoundException(string message) : Exception(message);
