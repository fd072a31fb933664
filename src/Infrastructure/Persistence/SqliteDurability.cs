using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>
/// Every connection to the SQLite store commits with <c>synchronous = NORMAL</c>, SQLite's recommended setting in WAL mode:
/// a commit is in the write-ahead log when it returns, so it survives a crash of the server process, and the log is synced
/// to disk at each checkpoint instead of at every commit. The default (<c>FULL</c>) synced at every commit: a running job's
/// event log commits a batch every few milliseconds, and the syncs were ~4 % of its CPU. What a power cut or an OS crash
/// can still lose is what was committed since the last checkpoint.
/// </summary>
internal sealed class SqliteDurability : DbConnectionInterceptor
{
    public const string Pragma = "PRAGMA synchronous = NORMAL;";

    public static void Apply(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        command.ExecuteNonQuery();
    }

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (connection is SqliteConnection sqlite)
        {
            Apply(sqlite);
        }
    }

    /// <summary>SQLite runs in process: the pragma completes at once, as it would asynchronously.</summary>
    public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        ConnectionOpened(connection, eventData);
        return Task.CompletedTask;
    }
}
