using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>
/// <c>Storage:Provider</c> = <c>sqlite</c> (default; <c>ConnectionStrings:Jobs</c> is a SQLite connection string) or
/// <c>postgres</c> (an Npgsql connection string). Everything else reads the store through
/// <c>IDbContextFactory&lt;JobsDbContext&gt;</c>; each provider's context type owns its own migrations.
/// </summary>
internal static class StorageRegistration
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";
    public const string DefaultConnectionString = "Data Source=data/cleanrealtime.db";

    /// <summary>Registers the store; true when it is shared by several nodes (PostgreSQL), false for one node's SQLite file.</summary>
    public static bool AddJobStore(this IServiceCollection services, IConfiguration configuration)
    {
        var provider = (configuration["Storage:Provider"] ?? Sqlite).Trim().ToLowerInvariant();
        var connectionString = configuration.GetConnectionString("Jobs");
        switch (provider)
        {
            case Sqlite:
                services.AddPooledDbContextFactory<JobsDbContext>(o => o.UseSqlite(connectionString ?? DefaultConnectionString).AddInterceptors(new SqliteDurability()));
                return false;
            case Postgres:
                if (string.IsNullOrWhiteSpace(connectionString))
                {
                    throw new InvalidOperationException("Storage:Provider=postgres needs ConnectionStrings:Jobs (an Npgsql connection string).");
                }

                services.AddPooledDbContextFactory<PostgresJobsDbContext>(o => o.UseNpgsql(connectionString));
                services.AddSingleton<IDbContextFactory<JobsDbContext>, ProviderContextFactory<PostgresJobsDbContext>>();
                services.AddSingleton(new Execution.JobStoreConnection(connectionString));
                return true;
            default:
                throw new InvalidOperationException($"Storage:Provider must be '{Sqlite}' or '{Postgres}', not '{provider}'.");
        }
    }

    /// <summary>Hands out a provider's own context type as the <see cref="JobsDbContext"/> the rest of the code uses.</summary>
    private sealed class ProviderContextFactory<TContext>(IDbContextFactory<TContext> contexts) : IDbContextFactory<JobsDbContext>
        where TContext : JobsDbContext
    {
        public JobsDbContext CreateDbContext() => contexts.CreateDbContext();
    }
}
