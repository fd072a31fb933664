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

    public static SecurityOptions From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var perMinute = configuration.GetValue<int?>("RateLimits:CreateJobPerMinute") ?? 0;
        if (perMinute < 0)
        {
            throw new InvalidOperationException("RateLimits:CreateJobPerMinute must be 0 (off) or positive.");
        }

        return new SecurityOptions(List(configuration.GetSection("Auth:ApiKeys")), List(configuration.GetSection("Realtime:AllowedOrigins")), perMinute);
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
