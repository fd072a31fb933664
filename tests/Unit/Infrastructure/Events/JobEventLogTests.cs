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

            // As the server's store (DatabaseInitializer): readers never block the writer.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
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

        Assert.Equal(2, purged.Deleted);
        Assert.Equal(new JobEventRange(3, 3, true), await _log.GetRangeAsync(expired, CancellationToken.None));
        Assert.Equal(new JobEventRange(1, 2, true), await _log.GetRangeAsync(recent, CancellationToken.None));
        Assert.Equal(new JobEventRange(1, 2, false), await _log.GetRangeAsync(running, CancellationToken.None));
        Assert.Equal(PurgeReport.None, await _log.PurgeAsync(At.AddHours(1), CancellationToken.None));
    }

    [Fact]
    public async Task Purge_OfAJobWith100000Messages_HoldsTheStoreUnder100MsAtATime_WhileAppendsAndSubmissionsGoOn()
    {
        var big = await NewJobAsync();
        const int count = 100_000;
        for (var from = 1; from <= count; from += 5000)
        {
            var to = Math.Min(count, from + 4999);
            await _log.AppendAsync([.. Enumerable.Range(from, to - from + 1).Select(seq => Event(big, seq, ends: seq == count, at: At))], CancellationToken.None);
        }

        // Another job runs meanwhile: its messages are appended (through a log of its own, as another writer) and jobs are
        // submitted, each timed, while the purge runs.
        var running = await NewJobAsync();
        using var otherWriter = new JobEventLog(_contexts);
        var purge = Task.Run(() => _log.PurgeAsync(At.AddHours(1), CancellationToken.None));
        var appendTimes = new List<TimeSpan>();
        var submitTimes = new List<TimeSpan>();
        var seq = 0L;
        while (!purge.IsCompleted)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await otherWriter.AppendAsync([Event(running, ++seq)], CancellationToken.None);
            appendTimes.Add(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            started = System.Diagnostics.Stopwatch.GetTimestamp();
            await NewJobAsync();
            submitTimes.Add(System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }

        var report = await purge;

        Assert.Equal(count - 1, report.Deleted);
        Assert.True(report.Transactions > 10, $"{report.Transactions} transactions: the purge must go in small ones");
        Assert.True(report.LongestTransaction < TimeSpan.FromMilliseconds(100), $"the longest purge transaction held the store {report.LongestTransaction.TotalMilliseconds:F1} ms");
        Assert.True(appendTimes.Count >= 5, $"only {appendTimes.Count} appends went through during the purge");
        Assert.True(appendTimes.Max() < TimeSpan.FromSeconds(1), $"an append waited {appendTimes.Max().TotalMilliseconds:F0} ms for the purge");
        Assert.True(submitTimes.Max() < TimeSpan.FromSeconds(1), $"a submission waited {submitTimes.Max().TotalMilliseconds:F0} ms for the purge");
        Assert.Equal(new JobEventRange(count, count, true), await _log.GetRangeAsync(big, CancellationToken.None));
        Assert.Equal(new JobEventRange(1, seq, false), await _log.GetRangeAsync(running, CancellationToken.None));
    }

    [Fact]
    public async Task Purge_WithNothingDue_WritesNothing()
    {
        var ended = await NewJobAsync();
        await _log.AppendAsync([Event(ended, 1), Event(ended, 2, ends: true)], CancellationToken.None);
        Assert.Equal(1, (await _log.PurgeAsync(At.AddHours(1), CancellationToken.None)).Deleted);

        // PRAGMA data_version changes when another connection commits to the database.
        await using var observer = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_file};Pooling=False");
        await observer.OpenAsync();
        var before = await DataVersionAsync(observer);

        Assert.Equal(PurgeReport.None, await _log.PurgeAsync(At.AddHours(1), CancellationToken.None));
        Assert.Equal(before, await DataVersionAsync(observer));

        await _log.AppendAsync([Event(ended, 3)], CancellationToken.None);
        Assert.NotEqual(before, await DataVersionAsync(observer));
    }

    [Fact]
    public async Task Purge_Cancelled_StopsBetweenTransactions_AndTheNextPassFinishes()
    {
        const int count = 60_000;
        var big = await NewJobAsync();
        await _log.AppendAsync([.. Enumerable.Range(1, count).Select(seq => Event(big, seq, ends: seq == count, at: At))], CancellationToken.None);
        using var stop = new CancellationTokenSource();

        // Cancelled as soon as its first transaction has committed.
        var purge = Task.Run(() => _log.PurgeAsync(At.AddHours(1), stop.Token));
        await TestSupport.Eventually.TrueAsync(
            () => _log.GetRangeAsync(big, CancellationToken.None).GetAwaiter().GetResult()!.FirstSeq > 1, "the first chunk is deleted", TimeSpan.FromSeconds(30));
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => purge);
        var left = await _log.GetRangeAsync(big, CancellationToken.None);
        Assert.True(left!.FirstSeq > 1 && left.FirstSeq < count, $"a cancelled pass stops part-way (first kept: {left.FirstSeq})");
        var rest = await _log.PurgeAsync(At.AddHours(1), CancellationToken.None);
        Assert.Equal(new JobEventRange(count, count, true), await _log.GetRangeAsync(big, CancellationToken.None));
        Assert.Equal(count - left.FirstSeq, rest.Deleted);
    }

    private static async Task<long> DataVersionAsync(Microsoft.Data.Sqlite.SqliteConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA data_version;";
        return (long)(await command.ExecuteScalarAsync())!;
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
