namespace CleanRealtime.Domain.Common;

/// <summary>A domain invariant was broken (an invalid state transition or value). Mapped to 409 at the edge.</summary>
public sealed class DomainRuleException(string message) : Exception(message);
