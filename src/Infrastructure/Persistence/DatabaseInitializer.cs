using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>
/// Before anything else starts (workers, the HTTP server): applies the provider's migrations (on SQLite it first creates
/// the database folder, then switches to WAL). Also answers the readiness probe.
/// </summary>
public sealed partial class DatabaseInitializer(IDbContextFactory<JobsDbContext> contexts, ILogger<DatabaseInitializer> logger)
    : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (!db.Database.IsSqlite())
        {
            await db.Database.MigrateAsync(cancellationToken);
            var postgres = new Npgsql.NpgsqlConnectionStringBuilder(db.Database.GetConnectionString());
            LogReady("PostgreSQL", $"{postgres.Host}:{postgres.Port}/{postgres.Database}");
            return;
        }

        var dataSource = new SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
        var folder = Path.GetDirectoryName(Path.GetFullPath(dataSource));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        await db.Database.MigrateAsync(cancellationToken);
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        LogReady("SQLite", dataSource);
    }

    public async Task<bool> CanConnectAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Database.CanConnectAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Job database ready: {Provider} at {Location}")]
    private partial void LogReady(string provider, string location);
}
