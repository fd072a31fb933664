namespace CleanRealtime.Application.Common;

/// <summary>A request body larger than the limit for it. Mapped to 413.</summary>
public sealed class PayloadTooLargeException(string message) : Exception(message);

/// <summary>Content the server cannot use (an upload OpenCV cannot decode, an unknown file type). Mapped to 415.</summary>
public sealed class UnsupportedMediaException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Something the server had is no longer there (a job's source file deleted or replaced). Mapped to 410.</summary>
public sealed class GoneException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The media volume would be left with less free space than <c>Media:MinFreeBytes</c>. Mapped to 507.</summary>
public sealed class InsufficientStorageException(string message) : Exception(message);
