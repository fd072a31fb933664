namespace CleanRealtime.Api.Security;

/// <summary>
/// Optional protections, all off by default for local use: API keys (<c>Auth:ApiKeys</c>), allowed WebSocket origins
/// (<c>Realtime:AllowedOrigins</c>) and a rate limit on job submission (<c>RateLimits:CreateJobPerMinute</c>).
/// Lists may be given as arrays (<c>Auth__ApiKeys__0=…</c>) or one comma-separated value.
/// </summary>
public sealed record SecurityOptions(IReadOnlyList<string> ApiKeys, IReadOnlyList<string> AllowedOrigins, int CreateJobPerMinute)
{
    public bool ApiKeysEnabled => ApiKeys.Count > 0;

    public bool OriginCheckEnabled => AllowedOrigins.Count > 0;

    public bool RateLimitEnabled => CreateJobPerMinute > 0;

    /// <summary>
    /// The host names of <c>AllowedHosts</c> (semicolon-separated; <c>*.example.com</c> allowed), empty when it is
    /// <c>*</c> or unset: names the host filter guarantees a request's <c>Host</c> is one of, so that a page served under
    /// them counts as the server's own origin.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    public static SecurityOptions From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var perMinute = configuration.GetValue<int?>("RateLimits:CreateJobPerMinute") ?? 0;
        if (perMinute < 0)
        {
            throw new InvalidOperationException("RateLimits:CreateJobPerMinute must be 0 (off) or positive.");
        }

        return new SecurityOptions(List(configuration.GetSection("Auth:ApiKeys")), List(configuration.GetSection("Realtime:AllowedOrigins")), perMinute)
        {
            AllowedHosts = Hosts(configuration["AllowedHosts"]),
        };
    }

    /// <summary><c>AllowedHosts</c> as the host filter reads it; <c>*</c> anywhere allows any host, so none is guaranteed.</summary>
    private static List<string> Hosts(string? allowedHosts)
    {
        var hosts = (allowedHosts ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        return hosts.Contains("*") ? [] : hosts;
    }

    private static List<string> List(IConfigurationSection section)
    {
        var values = section.GetChildren().Select(c => c.Value).ToList();
        if (values.Count == 0 && section.Value is { } single)
        {
            values = [.. single.Split(',')];
        }

        return values.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim()).Distinct(StringComparer.Ordinal).ToList();
    }
}
