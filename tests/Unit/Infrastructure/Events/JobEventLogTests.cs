using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Events;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace CleanRealtime.UnitTests.Infrastructure.Events;

/// <summary>The EF Core event log on a real SQLite file with the real migrations.</summary>
public sealed class JobEventLogTests : IAsyncLifetime, IDisposable
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"events-{Guid.NewGuid():N}.db");
    private PooledDbContextFactory<JobsDbContext> _contexts = null!;
    private JobEventLog _log = null!;
    private JobRepository _jobs = null!;

    public async Task InitializeAsync()
    {
        _contexts = new PooledDbContextFactory<JobsDbContext>(
            new DbContextOptionsBuilder<JobsDbContext>().UseSqlite($"Data Source={_file};Pooling=False").Options);
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            await db.Database.MigrateAsync();
        }

        _log = new JobEventLog(_contexts);
        _jobs = new JobRepository(_contexts);
    }

    public Task DisposeAsync()
    {
        // The log keeps a SQLite connection of its own for appends.
        _log.Dispose();
        File.Delete(_file);
        return Task.CompletedTask;
    }

    public void Dispose() => _log.Dispose();

    [Fact]
    public async Task AppendThenRead_ReturnsTheRangeAfterASeq_InOrder_WithTheSameBytes()
    {
        var job = await NewJobAsync();
        await _log.AppendAsync([.. Enumerable.Range(1, 5).Reverse().Select(seq => Event(job, seq, ends: seq == 5))], CancellationToken.None);

        var page = await _log.ReadAsync(job, afterSeq: 1, limit: 3, CancellationToken.None);

        Assert.Equal([2L, 3, 4], page.Select(e => e.Seq));
        Assert.Equal("{\"seq\":3}"u8.ToArray(), page[1].Json);
        Assert.Equal(MessageType.Frame, page[1].Type);
        Assert.Equal(At.AddSeconds(3), page[1].At);
        Assert.Equal(new JobEventRange(1, 5, true), await _log.GetRangeAsync(job, CancellationToken.None));
        Assert.Null(await _log.GetRangeAsync(Guid.NewGuid(), CancellationToken.None));
    }

    [Fact]
    public async Task Append_TheSameSeqTwice_Fails()
    {
        var job = await NewJobAsync();
        await _log.AppendAsync([Event(job, 1)], CancellationToken.None);

        await Assert.ThrowsAnyAsync<DbUpdateException>(() => _log.AppendAsync([Event(job, 1)], CancellationToken.None));
    }

    [Fact]
    public async Task Purge_KeepsRunningAndRecentJobs_AndEachExpiredJobsLastMessage()
    {
        var expired = await NewJobAsync();
        var recent = await NewJobAsync();
        var running = await NewJobAsync();
        await _log.AppendAsync(
            [
                Event(expired, 1), Event(expired, 2), Event(expired, 3, ends: true),
                Event(recent, 1), Event(recent, 2, ends: true, at: At.AddHours(2)),
                Event(running, 1), Event(running, 2),
            ],
            CancellationToken.None);

        var purged = await _log.PurgeAsync(At.AddHours(1), CancellationToken.None);

        Assert.Equal(2, purged);
        Assert.Equal(new JobEventRange(3, 3, true), await _log.GetRangeAsync(expired, CancellationToken.None));
        Assert.Equal(new JobEventRange(1, 2, true), await _log.GetRangeAsync(recent, CancellationToken.None));
        Assert.Equal(new JobEventRange(1, 2, false), await _log.GetRangeAsync(running, CancellationToken.None));
        Assert.Equal(0, await _log.PurgeAsync(At.AddHours(1), CancellationToken.None));
    }

    private async Task<Guid> NewJobAsync()
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], At);
        await _jobs.AddAsync(job, null, CancellationToken.None);
        return job.Id;
    }

    private static JobEvent Event(Guid job, long seq, bool ends = false, DateTimeOffset? at = null) =>
        new(job, seq, ends ? MessageType.Progress : MessageType.Frame, System.Text.Encoding.UTF8.GetBytes($"{{\"seq\":{seq}}}"), at ?? At.AddSeconds(seq), ends);
}
