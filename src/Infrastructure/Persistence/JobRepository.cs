using System.Globalization;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Jobs;
using Microsoft.EntityFrameworkCore;

namespace CleanRealtime.Infrastructure.Persistence;

internal sealed class JobRepository(IDbContextFactory<JobsDbContext> contexts) : IJobRepository
{
    private static readonly string[] Unfinished = [JobStatus.Queued.ToWire(), JobStatus.Running.ToWire()];
    private static readonly string Queued = JobStatus.Queued.ToWire();
    private static readonly string Running = JobStatus.Running.ToWire();

    public async Task AddAsync(Job job, string? submittedBy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var memento = job.ToMemento();
        var row = new JobRow
        {
            Id = Key(memento.Id), Source = memento.Source, DeviceRequested = memento.DeviceRequested.ToWire(),
            DeviceUsed = memento.DeviceUsed.ToWire(), PluginsJson = JsonSerializer.Serialize(memento.Plugins),
            Status = memento.Status.ToWire(), CreatedAtTicks = memento.CreatedAt.UtcTicks, PluginTimingsJson = "{}", WarningsJson = "[]",
            SubmittedBy = submittedBy,
        };
        Apply(memento, row);
        row.Turn = await NextTurnAsync(db, submittedBy, cancellationToken);
        db.Jobs.Add(row);
        db.Frames.AddRange(memento.Frames.Select(f => ToRow(memento.Id, f)));
        await db.SaveChangesAsync(cancellationToken);
    }

    public async Task<Job?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var key = Key(id);
        var row = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == key, cancellationToken);
        if (row is null)
        {
            return null;
        }

        var frames = await db.Frames.AsNoTracking().Where(f => f.JobId == key).OrderBy(f => f.Index).ToListAsync(cancellationToken);
        return Job.Restore(ToMemento(row, frames.Select(ToFrame).ToList()));
    }

    public async Task<FramePage?> ReadFramesAsync(Guid id, int offset, int limit, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var key = Key(id);
        var frames = db.Frames.AsNoTracking().Where(f => f.JobId == key);
        var total = await frames.CountAsync(cancellationToken);

        // Frames exist only for a stored job: the job itself is looked up only when it has none.
        if (total == 0 && !await db.Jobs.AnyAsync(j => j.Id == key, cancellationToken))
        {
            return null;
        }

        var rows = await frames.OrderBy(f => f.Index).Skip(offset).Take(limit).ToListAsync(cancellationToken);
        return new FramePage(rows.Select(ToFrame).ToList(), total);
    }

    public async Task<JobMemento?> FindStateAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var key = Key(id);
        var row = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == key, cancellationToken);
        return row is null ? null : ToMemento(row, []);
    }

    public async Task SaveAsync(JobMemento job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var key = Key(job.Id);
        var row = await db.Jobs.SingleOrDefaultAsync(j => j.Id == key, cancellationToken)
                  ?? throw new InvalidOperationException($"Job {job.Id} was never stored.");
        Apply(job, row);

        // The last stored frame may have been saved while its plugins were still adding results: write it again.
        var lastStored = await db.Frames.Where(f => f.JobId == key).MaxAsync(f => (int?)f.Index, cancellationToken) ?? 0;
        var fresh = job.Frames.Where(f => f.Index >= lastStored).ToList();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (fresh.Count > 0)
        {
            var from = fresh[0].Index;
            await db.Frames.Where(f => f.JobId == key && f.Index >= from).ExecuteDeleteAsync(cancellationToken);

            // A checkpoint appends every frame analysed since the last one: without the change tracker (see BulkInsert).
            await BulkInsert.InsertAsync(db, [.. fresh.Select(f => ToRow(job.Id, f))], cancellationToken);
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<JobMemento>> ListAsync(JobStatus? status, int limit, JobPageCursor? after, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.Jobs.AsNoTracking();
        if (status is { } s)
        {
            var wire = s.ToWire();
            query = query.Where(j => j.Status == wire);
        }

        if (after is not null)
        {
            var ticks = after.CreatedAt.UtcTicks;
            var key = Key(after.Id);
            query = query.Where(j => j.CreatedAtTicks < ticks || (j.CreatedAtTicks == ticks && string.Compare(j.Id, key) < 0));
        }

        var rows = await query.OrderByDescending(j => j.CreatedAtTicks).ThenByDescending(j => j.Id).Take(limit).ToListAsync(cancellationToken);
        return rows.Select(r => ToMemento(r, [])).ToList();
    }

    public async Task<IReadOnlyDictionary<JobStatus, int>> CountByStatusAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = await db.Jobs.GroupBy(j => j.Status).Select(g => new { Status = g.Key, Count = g.Count() }).ToListAsync(cancellationToken);
        return rows.ToDictionary(
            r => JobStatusExtensions.TryParseWire(r.Status, out var status) ? status : throw new InvalidOperationException($"Unknown stored status '{r.Status}'."),
            r => r.Count);
    }

    public async Task<int> CountQueuedAsync(string? submittedBy, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var queued = db.Jobs.Where(j => j.Status == Queued);
        return await (submittedBy is null ? queued : queued.Where(j => j.SubmittedBy == submittedBy)).CountAsync(cancellationToken);
    }

    public async Task<bool> RequestCancelAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var key = Key(id);
        return await db.Jobs.Where(j => j.Id == key && Unfinished.Contains(j.Status))
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.CancelRequested, true), cancellationToken) == 1;
    }

    /// <summary>
    /// Deletes expired jobs one at a time, each in small transactions (<see cref="ChunkedDelete"/>): its frames and its
    /// event log by key ranges, then the job row itself (whose cascades then find nothing left to delete). A job is
    /// gone only once its row is; a pass cut short leaves jobs whole or with fewer frames, deleted by the next pass.
    /// </summary>
    public async Task<int> DeleteFinishedAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        var cutoff = endedBefore.UtcTicks;
        var tally = new PurgeTally();
        var deleted = 0;
        while (true)
        {
            List<string> expired;
            await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
            {
                // The CompletedAtTicks index; nothing is written when nothing is due.
                expired = await db.Jobs.AsNoTracking().Where(j => j.CompletedAtTicks < cutoff && !Unfinished.Contains(j.Status))
                    .OrderBy(j => j.CompletedAtTicks).Select(j => j.Id).Take(100).ToListAsync(cancellationToken);
            }

            foreach (var key in expired)
            {
                await DeleteJobAsync(key, tally, cancellationToken);
                deleted++;
            }

            if (expired.Count < 100)
            {
                return deleted;
            }
        }
    }

    private async Task DeleteJobAsync(string key, PurgeTally tally, CancellationToken cancellationToken)
    {
        (int? First, int? Last) frames;
        (long? First, long? Last) events;
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            var jobFrames = db.Frames.Where(f => f.JobId == key);
            frames = (await jobFrames.MinAsync(f => (int?)f.Index, cancellationToken), await jobFrames.MaxAsync(f => (int?)f.Index, cancellationToken));
            var jobEvents = db.JobEvents.Where(e => e.JobId == key);
            events = (await jobEvents.MinAsync(e => (long?)e.Seq, cancellationToken), await jobEvents.MaxAsync(e => (long?)e.Seq, cancellationToken));
        }

        if (frames is ({ } firstFrame, { } lastFrame))
        {
            await ChunkedDelete.DeleteRangeAsync(
                contexts, firstFrame, lastFrame + 1L,
                (db, from, to, token) => db.Frames.Where(f => f.JobId == key && f.Index >= from && f.Index < to).ExecuteDeleteAsync(token),
                tally, cancellationToken);
        }

        if (events is ({ } firstSeq, { } lastSeq))
        {
            await ChunkedDelete.DeleteRangeAsync(
                contexts, firstSeq, lastSeq + 1,
                (db, from, to, token) => db.JobEvents.Where(e => e.JobId == key && e.Seq >= from && e.Seq < to).ExecuteDeleteAsync(token),
                tally, cancellationToken);
        }

        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            await db.Jobs.Where(j => j.Id == key).ExecuteDeleteAsync(cancellationToken);
        }
    }

    public async Task<IReadOnlyList<Job>> ListUnfinishedAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = await db.Jobs.AsNoTracking().Where(j => Unfinished.Contains(j.Status))
            .OrderBy(j => j.CreatedAtTicks).ThenBy(j => j.Id).ToListAsync(cancellationToken);
        return rows.Select(r => Job.Restore(ToMemento(r, []))).ToList();
    }

    /// <summary>
    /// The turn of a new job of <paramref name="client"/>: after the newest turn a worker has taken (the round being
    /// served now; when no job is with a worker, the round before the oldest waiting one) and after the client's own
    /// unfinished jobs. Every query reads jobs by status only (indexed), never the finished history.
    /// </summary>
    private static async Task<long> NextTurnAsync(JobsDbContext db, string? client, CancellationToken cancellationToken)
    {
        var served = await db.Jobs.Where(j => j.Status == Running || (j.Status == Queued && j.LeaseOwner != null))
                         .MaxAsync(j => (long?)j.Turn, cancellationToken)
                     ?? await db.Jobs.Where(j => j.Status == Queued).MinAsync(j => (long?)j.Turn, cancellationToken) - 1
                     ?? 0;
        var own = client is null
            ? null
            : await db.Jobs.Where(j => Unfinished.Contains(j.Status) && j.SubmittedBy == client).MaxAsync(j => (long?)j.Turn, cancellationToken);
        return Math.Max(served, own ?? 0) + 1;
    }

    private static InvalidOperationException Corrupt(JobRow row, string column) =>
        new($"Stored job {row.Id} has an unreadable {column}.");

    private static string Key(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private static void Apply(JobMemento job, JobRow row)
    {
        row.Status = job.Status.ToWire();
        row.Progress = job.Progress;
        row.Error = job.Error;
        row.StartedAt = job.StartedAt;
        row.CompletedAt = job.CompletedAt;
        row.CompletedAtTicks = job.CompletedAt?.UtcTicks;
        row.PluginTimingsJson = JsonSerializer.Serialize(job.PluginTimings);
        row.WarningsJson = JsonSerializer.Serialize(job.Warnings);
    }

    private static FrameRow ToRow(Guid jobId, FrameResult frame) => new()
    {
        JobId = Key(jobId), Index = frame.Index, FrameId = frame.FrameId, TimestampMs = frame.TimestampMs,
        ResultsJson = JsonSerializer.Serialize(frame.Results),
    };

    private static FrameResult ToFrame(FrameRow row) => new(
        row.FrameId, row.Index, row.TimestampMs,
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(row.ResultsJson) ?? []);

    private static JobMemento ToMemento(JobRow row, IReadOnlyList<FrameResult> frames)
    {
        var requested = DeviceExtensions.TryParseWire(row.DeviceRequested, out var r) ? r : throw Corrupt(row, "device_requested");
        var used = DeviceExtensions.TryParseWire(row.DeviceUsed, out var u) ? u : throw Corrupt(row, "device_used");
        var status = JobStatusExtensions.TryParseWire(row.Status, out var st) ? st : throw Corrupt(row, "status");
        return new JobMemento(
            Guid.Parse(row.Id), row.Source, requested, used, JsonSerializer.Deserialize<List<string>>(row.PluginsJson) ?? [], status,
            row.Progress, row.Error, new DateTimeOffset(row.CreatedAtTicks, TimeSpan.Zero), row.StartedAt, row.CompletedAt, frames,
            JsonSerializer.Deserialize<Dictionary<string, double>>(row.PluginTimingsJson) ?? [],
            JsonSerializer.Deserialize<List<string>>(row.WarningsJson) ?? []);
    }
}
