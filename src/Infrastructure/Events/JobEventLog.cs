using System.Globalization;
using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace CleanRealtime.Infrastructure.Events;

/// <summary>
/// The job event log on the job database (table <c>job_events</c>, key job + seq). EF Core LINQ, and appends through
/// <see cref="BulkInsert"/> (SQL built from the EF model), so the same code runs on every provider.
/// </summary>
internal sealed class JobEventLog(IDbContextFactory<JobsDbContext> contexts) : IJobEventLog
{
    public async Task AppendAsync(IReadOnlyList<JobEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return;
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = new JobEventRow[events.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var e = events[i];
            rows[i] = new JobEventRow
            {
                JobId = Key(e.JobId), Seq = e.Seq, Type = e.Type.ToWire(), Json = e.Json, CreatedAtTicks = e.At.UtcTicks, EndsJob = e.EndsJob,
            };
        }

        // All or nothing, as SaveChanges was; without the change tracker (see BulkInsert).
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await BulkInsert.InsertAsync(db, rows, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
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

    public async Task<int> PurgeAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var cutoff = endedBefore.UtcTicks;
        var ends = db.JobEvents.Where(end => end.EndsJob && end.CreatedAtTicks < cutoff);
        return await db.JobEvents
            .Where(e => !e.EndsJob && ends.Any(end => end.JobId == e.JobId && end.Seq > e.Seq))
            .ExecuteDeleteAsync(cancellationToken);
    }

    private static string Key(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private static JobEvent ToEvent(Guid jobId, JobEventRow row) =>
        new(jobId, row.Seq, MessageTypeExtensions.TryParseWire(row.Type, out var type)
                ? type
                : throw new InvalidOperationException($"Stored message {row.Seq} of job {jobId} has an unknown type '{row.Type}'."),
            row.Json, new DateTimeOffset(row.CreatedAtTicks, TimeSpan.Zero), row.EndsJob);
}
