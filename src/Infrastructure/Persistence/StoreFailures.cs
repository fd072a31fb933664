using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>
/// Tells a store that is busy, locked, stalled or unreachable (worth a retry: a 503 with <c>Retry-After</c>) from a
/// defect (a 500): SQLite's busy/locked/I-O errors, a PostgreSQL connection that failed or was refused, a server that is
/// shutting down or has no room, a lock or statement timeout, and timeouts in general.
/// </summary>
public static class StoreFailures
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteIoError = 10;
    private const int SqliteFull = 13;
    private const int SqliteCantOpen = 14;

    // PostgreSQL SQLSTATEs of an unavailable server: connection exceptions (class 08), too many connections, lock not
    // available, a database not accepting connections (55000), query cancelled by a timeout, admin/crash shutdown, cannot
    // connect now.
    private static readonly HashSet<string> PostgresUnavailable = ["53300", "55000", "55P03", "57014", "57P01", "57P02", "57P03", "58000", "58030"];

    /// <summary>Whether <paramref name="exception"/> (or one it wraps) says the store is unavailable for now.</summary>
    public static bool IsUnavailable(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SqliteException sqlite when sqlite.SqliteErrorCode is SqliteBusy or SqliteLocked or SqliteIoError or SqliteFull or SqliteCantOpen:
                case PostgresException postgres when postgres.SqlState.StartsWith("08", StringComparison.Ordinal) || PostgresUnavailable.Contains(postgres.SqlState):
                case NpgsqlException npgsql when npgsql is not PostgresException:
                case RetryLimitExceededException:
                case TimeoutException:
                case SocketException:
                    return true;
            }
        }

        return false;
    }
}
