using System.Data.Common;
using System.Globalization;
using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace CleanRealtime.Infrastructure.Events;

/// <summary>
/// The job event log on the job database (table <c>job_events</c>, key job + seq). EF Core LINQ, and appends through
/// <see cref="BulkInsert"/> (SQL built from the EF model), so the same code runs on every provider. On SQLite, appends
/// (a batch every few ms while a job runs) go through one connection of their own with the insert prepared once
/// (<see cref="PreparedInsert{TEntity}"/>): no context, connection open and statement parse per batch.
/// </summary>
internal sealed class JobEventLog(IDbContextFactory<JobsDbContext> contexts) : IJobEventLog, IDisposable
{
    private readonly Lock _appendGate = new();

    // Known from the first append on: the SQLite connection string, or null on another provider.
    private string? _sqlite;
    private bool _providerKnown;
    private SqliteConnection? _connection;
    private PreparedInsert<JobEventRow>? _insert;
    private bool _disposed;

    public async Task AppendAsync(IReadOnlyList<JobEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return;
        }

        var rows = ToRows(events);
        if (!_providerKnown)
        {
            await using var probe = await contexts.CreateDbContextAsync(cancellationToken);
            _sqlite = probe.Database.GetDbConnection() is SqliteConnection ? probe.Database.GetConnectionString() : null;
            _providerKnown = true;
        }

        if (_sqlite is { } connectionString)
        {
            await AppendToSqliteAsync(connectionString, rows, cancellationToken);
            return;
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);

        // All or nothing, as SaveChanges was; without the change tracker (see BulkInsert).
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await BulkInsert.InsertAsync(db, rows, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public void Dispose()
    {
        lock (_appendGate)
        {
            _disposed = true;
            CloseSqlite();
        }
    }

    /// <summary>One transaction on the log's own connection; after a failure the connection is closed and opened afresh next time.</summary>
    private async Task AppendToSqliteAsync(string connectionString, JobEventRow[] rows, CancellationToken cancellationToken)
    {
        if (_insert is null)
        {
            // The statement's SQL comes from the EF model: a context is only needed to build it, once.
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            lock (_appendGate)
            {
                OpenSqlite(db, connectionString);
            }
        }

        lock (_appendGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                if (_insert is null)
                {
                    throw new InvalidOperationException("The event log's SQLite connection is not open.");
                }

                using var transaction = _connection!.BeginTransaction();
                _insert.Execute(rows, transaction, cancellationToken);
                transaction.Commit();
            }
            catch (SqliteException ex)
            {
                CloseSqlite();
                throw new DbUpdateException($"Could not append {rows.Length} job events: {ex.Message}", ex);
            }
            catch (DbUpdateException)
            {
                CloseSqlite();
                throw;
            }
        }
    }

    private void OpenSqlite(JobsDbContext db, string connectionString)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_insert is not null)
        {
            return;
        }

        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            SqliteDurability.Apply(connection);
            if (new SqliteConnectionStringBuilder(connectionString).ForeignKeys is null)
            {
                // The job_events → jobs foreign key is enforced here as on the store's other connections, unless the connection string says otherwise.
                using var pragma = connection.CreateCommand();
                pragma.CommandText = "PRAGMA foreign_keys = 1;";
                pragma.ExecuteNonQuery();
            }

            _insert = new PreparedInsert<JobEventRow>(db, connection);
            _connection = connection;
        }
        catch (Exception ex) when (ex is DbException or DbUpdateException or InvalidOperationException)
        {
            connection.Dispose();
            throw;
        }
    }

    private void CloseSqlite()
    {
        _insert?.Dispose();
        _insert = null;
        _connection?.Dispose();
        _connection = null;
    }

    private static JobEventRow[] ToRows(IReadOnlyList<JobEvent> events)
    {
        var rows = new JobEventRow[events.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var e = events[i];
            rows[i] = new JobEventRow
            {
                JobId = Key(e.JobId), Seq = e.Seq, Type = e.Type.ToWire(), Json = e.Json, CreatedAtTicks = e.At.UtcTicks, EndsJob = e.EndsJob,
            };
        }

        return rows;
    }

    public async Task<IReadOnlyList<JobEvent>> ReadAsync(Guid jobId, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var key = Key(jobId);
        var rows = await db.JobEvents.AsNoTracking()
            .Where(e => e.JobId == key && e.Seq > afterSeq)
            .OrderBy(e => e.Seq)
            .Take(limit)
            .ToListAsync(cancellationToken);
        return [.. rows.Select(r => ToEvent(jobId, r))];
    }

    public async Task<JobEventRange?> GetRangeAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var key = Key(jobId);
        var events = db.JobEvents.AsNoTracking().Where(e => e.JobId == key);
        var last = await events.OrderByDescending(e => e.Seq).Select(e => new { e.Seq, e.EndsJob }).FirstOrDefaultAsync(cancellationToken);
        if (last is null)
        {
            return null;
        }

        var first = await events.OrderBy(e => e.Seq).Select(e => e.Seq).FirstAsync(cancellationToken);
        return new JobEventRange(first, last.Seq, last.EndsJob);
    }

    public async Task<PurgeReport> PurgeAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        var cutoff = endedBefore.UtcTicks;
        List<(string JobId, long EndSeq)> due;
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            // A read, driven by the (EndsJob, CreatedAtTicks) index; each ended job costs one seek on the key (JobId, Seq)
            // to tell whether anything before its end is still kept. Nothing is written when nothing is due.
            var ends = await db.JobEvents.AsNoTracking()
                .Where(end => end.EndsJob && end.CreatedAtTicks < cutoff
                              && db.JobEvents.Any(e => e.JobId == end.JobId && e.Seq < end.Seq))
                .Select(end => new { end.JobId, end.Seq })
                .ToListAsync(cancellationToken);
            due = [.. ends.Select(e => (e.JobId, e.Seq))];
        }

        var tally = new PurgeTally();
        foreach (var (jobId, endSeq) in due)
        {
            long first;
            await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
            {
                first = await db.JobEvents.Where(e => e.JobId == jobId && e.Seq < endSeq).MinAsync(e => (long?)e.Seq, cancellationToken) ?? endSeq;
            }

            // Seq ranges on the key: every chunk is an index range, whatever the provider.
            await ChunkedDelete.DeleteRangeAsync(
                contexts, first, endSeq,
                (db, from, to, token) => db.JobEvents.Where(e => e.JobId == jobId && e.Seq >= from && e.Seq < to && !e.EndsJob).ExecuteDeleteAsync(token),
                tally, cancellationToken);
        }

        return tally.ToReport();
    }

    private static string Key(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private static JobEvent ToEvent(Guid jobId, JobEventRow row) =>
        new(jobId, row.Seq, MessageTypeExtensions.TryParseWire(row.Type, out var type)
                ? type
                : throw new InvalidOperationException($"Stored message {row.Seq} of job {jobId} has an unknown type '{row.Type}'."),
            row.Json, new DateTimeOffset(row.CreatedAtTicks, TimeSpan.Zero), row.EndsJob);
}
