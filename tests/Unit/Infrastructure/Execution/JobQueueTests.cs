using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Execution;
using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CleanRealtime.UnitTests.Infrastructure.Execution;

/// <summary>The SQLite job queue (<see cref="JobQueue"/> with <see cref="FairClaim"/>) on a real SQLite file with the real migrations.</summary>
public sealed class JobQueueTests : IAsyncLifetime
{
    private static readonly string Running = JobStatus.Running.ToWire();
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"queue-{Guid.NewGuid():N}.db");
    private readonly JobsOptions _options = new() { MaxConcurrentJobs = 4, MaxRunningJobsPerClient = 10, QueuePollInterval = TimeSpan.FromMilliseconds(50) };
    private PooledDbContextFactory<JobsDbContext> _contexts = null!;
    private JobRepository _jobs = null!;
    private DateTimeOffset _created = new(2026, 12, 7, 0, 0, 0, TimeSpan.Zero);

    public async Task InitializeAsync()
    {
        _contexts = new PooledDbContextFactory<JobsDbContext>(
            new DbContextOptionsBuilder<JobsDbContext>().UseSqlite($"Data Source={_file};Pooling=False").Options);
        await using var db = await _contexts.CreateDbContextAsync();
        await db.Database.MigrateAsync();
        _jobs = new JobRepository(_contexts);
    }

    public Task DisposeAsync()
    {
        File.Delete(_file);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task ReadAllAsync_ThreeClients_ServesThemRoundRobinNotFirstInFirstOut()
    {
        var a1 = await AddAsync("a");
        var a2 = await AddAsync("a");
        var a3 = await AddAsync("a");
        var b1 = await AddAsync("b");
        var c1 = await AddAsync("c");

        var order = await TakeAsync(5);

        Assert.Equal([a1, b1, c1, a2, a3], order);
    }

    [Fact]
    public async Task ReadAllAsync_ClientAtItsRunningCap_IsSkippedUntilOneOfItsJobsEnds()
    {
        _options.MaxRunningJobsPerClient = 1;
        var a1 = await AddAsync("a");
        var a2 = await AddAsync("a");
        var b1 = await AddAsync("b");

        Assert.Equal([a1, b1], await TakeAsync(2));
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            await db.Jobs.Where(j => j.Id == a1.ToString("D")).ExecuteUpdateAsync(set => set.SetProperty(j => j.Status, JobStatus.Completed.ToWire()));
        }

        Assert.Equal([a2], await TakeAsync(1));
    }

    [Fact]
    public async Task ReadAllAsync_JobGivenOutButNeverStarted_IsGivenBackOnceAndThenNoLongerHoldsTheWorker()
    {
        var job = await AddAsync("a");
        using var queue = NewQueue();
        await using var reader = queue.ReadAllAsync(CancellationToken.None).GetAsyncEnumerator();

        Assert.True(await reader.MoveNextAsync());
        Assert.Equal(job, reader.Current);

        // The worker comes back without having started it (its run failed first): the job is claimable again.
        Assert.True(await reader.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(job, reader.Current);

        // It fails to start a second time: it stays claimed, and the worker goes on to the next job instead of looping.
        var next = await AddAsync("b");
        Assert.True(await reader.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(next, reader.Current);
    }

    [Fact]
    public async Task ReadAllAsync_ClaimOfAnEarlierRun_IsGivenBackBeforeTheFirstClaim()
    {
        var job = await AddAsync("a");
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            await db.Jobs.ExecuteUpdateAsync(set => set.SetProperty(j => j.LeaseOwner, "the-node-before-a-restart"));
        }

        Assert.Equal([job], await TakeAsync(1));
    }

    private JobQueue NewQueue() =>
        new(_contexts, new NodeIdentity("node"), new LiveJobs(), Options.Create(_options), TimeProvider.System, NullLogger<JobQueue>.Instance);

    private async Task<Guid> AddAsync(string client)
    {
        _created = _created.AddSeconds(1);
        var job = Job.Queue(Guid.CreateVersion7(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], _created);
        await _jobs.AddAsync(job, client, CancellationToken.None);
        return job.Id;
    }

    /// <summary>Takes <paramref name="count"/> jobs from the queue, starting each (as a worker would) before taking the next.</summary>
    private async Task<List<Guid>> TakeAsync(int count)
    {
        using var queue = NewQueue();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var taken = new List<Guid>();
        await foreach (var id in queue.ReadAllAsync(stop.Token))
        {
            taken.Add(id);
            await using var db = await _contexts.CreateDbContextAsync();
            await db.Jobs.Where(j => j.Id == id.ToString("D")).ExecuteUpdateAsync(set => set.SetProperty(j => j.Status, Running));
            if (taken.Count == count)
            {
                break;
            }
        }

        return taken;
    }
}
