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
                var sqlite = WithBusyTimeout(connectionString ?? DefaultConnectionString, StoreSettings.RequestTimeout(configuration));
                services.AddPooledDbContextFactory<JobsDbContext>(o => o.UseSqlite(sqlite).AddInterceptors(new SqliteDurability()));
                return false;
            case Postgres:
                if (string.IsNullOrWhiteSpace(connectionString))
                {
                    throw new InvalidOperationException("Storage:Provider=postgres needs ConnectionStrings:Jobs (an Npgsql connection string).");
                }

                connectionString = WithPostgresTimeouts(connectionString, StoreSettings.RequestTimeout(configuration));
                services.AddPooledDbContextFactory<PostgresJobsDbContext>(o => o.UseNpgsql(connectionString));
                services.AddSingleton<IDbContextFactory<JobsDbContext>, ProviderContextFactory<PostgresJobsDbContext>>();
                services.AddSingleton(new Execution.JobStoreConnection(connectionString));
                return true;
            default:
                throw new InvalidOperationException($"Storage:Provider must be '{Sqlite}' or '{Postgres}', not '{provider}'.");
        }
    }

    /// <summary>
    /// SQLite waits for a busy (locked) database up to its connection's default timeout (30 s unless the connection string
    /// says), and that wait cannot be cancelled: it follows <c>Storage:RequestTimeout</c> instead, so a request on a locked
    /// store gets its 503 in time. A <c>Default Timeout</c> in the connection string is kept as it is.
    /// </summary>
    internal static string WithBusyTimeout(string connectionString, TimeSpan timeout)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.ContainsKey("Default Timeout") || given.ContainsKey("DefaultTimeout") || given.ContainsKey("Command Timeout")
            || given.ContainsKey("CommandTimeout"))
        {
            return connectionString;
        }

        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString)
        {
            DefaultTimeout = (int)Math.Max(1, Math.Ceiling(timeout.TotalSeconds)),
        };
        return builder.ToString();
    }

    /// <summary>
    /// A stalled PostgreSQL server (paused, or a network that drops packets) answers nothing: a connection attempt and a
    /// command wait for it at most <c>Storage:RequestTimeout</c> (Npgsql then cancels the command and, if the server does
    /// not answer the cancel either, breaks the connection), unless the connection string sets <c>Timeout</c> or
    /// <c>Command Timeout</c> itself.
    /// </summary>
    internal static string WithPostgresTimeouts(string connectionString, TimeSpan timeout)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        var seconds = (int)Math.Max(1, Math.Ceiling(timeout.TotalSeconds));
        if (!given.ContainsKey("Timeout"))
        {
            builder.Timeout = seconds;
        }

        if (!given.ContainsKey("Command Timeout") && !given.ContainsKey("CommandTimeout"))
        {
            builder.CommandTimeout = seconds;
        }

        return builder.ConnectionString;
    }

    /// <summary>Hands out a provider's own context type as the <see cref="JobsDbContext"/> the rest of the code uses.</summary>
    private sealed class ProviderContextFactory<TContext>(IDbContextFactory<TContext> contexts) : IDbContextFactory<JobsDbContext>
        where TContext : JobsDbContext
    {
        public JobsDbContext CreateDbContext() => contexts.CreateDbContext();
    }
}

/// <summary>Settings of the store that the Api reads too.</summary>
public static class StoreSettings
{
    /// <summary><c>Storage:RequestTimeout</c> (default 10 s): how long a request may wait for the store before it gets a 503.</summary>
    public static TimeSpan RequestTimeout(IConfiguration configuration)
    {
        var timeout = configuration.GetValue("Storage:RequestTimeout", TimeSpan.FromSeconds(10));
        return timeout > TimeSpan.Zero ? timeout : throw new InvalidOperationException($"Storage:RequestTimeout must be positive, not {timeout}.");
    }
}
