using Microsoft.Extensions.Configuration;

namespace CleanRealtime.Infrastructure;

/// <summary>
/// <c>Node:Roles</c> (default <c>api,worker</c>): an <c>api</c> node accepts jobs and serves REST and realtime; a
/// <c>worker</c> node runs jobs. Every node answers <c>/health/*</c>. Splitting the roles needs the shared PostgreSQL
/// store: with SQLite the one node must do both.
/// </summary>
public sealed record NodeRoles(bool Api, bool Worker)
{
    public static NodeRoles From(IConfiguration configuration, bool sharedStore)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var configured = configuration["Node:Roles"];
        var roles = (configured ?? "api,worker").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => r.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        var unknown = roles.Where(r => r is not ("api" or "worker")).ToList();
        if (unknown.Count > 0 || roles.Count == 0)
        {
            throw new InvalidOperationException($"Node:Roles must list 'api', 'worker' or both, not '{configured}'.");
        }

        var parsed = new NodeRoles(roles.Contains("api"), roles.Contains("worker"));
        if (!sharedStore && !(parsed.Api && parsed.Worker))
        {
            throw new InvalidOperationException(
                "Node:Roles can split api and worker only with Storage:Provider=postgres; a SQLite node must be both (api,worker).");
        }

        return parsed;
    }
}
