using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure;
using CleanRealtime.Infrastructure.Persistence;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.IntegrationTests.Persistence;

/// <summary>The job store's contract, on each provider: the same tests on SQLite and on a real PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class JobStoreTests(PostgresContainer postgres)
{
    public static TheoryData<string> Providers => new() { StorageProviders.Sqlite, StorageProviders.Postgres };

    [SkippableTheory]
    [MemberData(nameof(Providers))]
    public async Task Repository_SavedJobWithFrames_ReadsBackStateAndFramesInPages(string provider)
    {
        await using var store = await OpenAsync(provider);
        var job = Job.Queue(Guid.CreateVersion7(), "synthetic:pitch", Device.Gpu, Device.Cpu, ["frame_quality", "motion_detection"], At(0));
        await store.Repository.AddAsync(job, "ip:127.0.0.1", CancellationToken.None);
        job.Start(At(1));
        for (var i = 1; i <= 5; i++)
        {
            job.RecordFrameResult(FrameResult.IdFor(i), i, 33.3 * i, "frame_quality", Json($$"""{"sharpness":{{i}}}"""), 1.5);
        }

        await store.Repository.SaveAsync(job.ToMemento(), CancellationToken.None);
        job.Complete(At(2));
        await store.Repository.SaveAsync(job.ToMemento(), CancellationToken.None);

        var state = await store.Repository.FindStateAsync(job.Id, CancellationToken.None);
        Assert.NotNull(state);
        Assert.Equal((JobStatus.Completed, 100, Device.Gpu, Device.Cpu), (state.Status, state.Progress, state.DeviceRequested, state.DeviceUsed));
        Assert.Equal(At(2), state.CompletedAt);
        Assert.Empty(state.Frames);

        var page = await store.Repository.ReadFramesAsync(job.Id, 3, 10, CancellationToken.None);
        Assert.NotNull(page);
        Assert.Equal(5, page.Total);
        Assert.Equal([4, 5], page.Items.Select(f => f.Index));
        Assert.Equal(5, page.Items[^1].Results["frame_quality"].GetProperty("sharpness").GetInt32());
        Assert.Null(await store.Repository.ReadFramesAsync(Guid.NewGuid(), 0, 10, CancellationToken.None));
    }

    [SkippableTheory]
    [MemberData(nameof(Providers))]
    public async Task Repository_QueuedJobs_AreCountedServerWideAndPerClient(string provider)
    {
        await using var store = await OpenAsync(provider);
        foreach (var client in new[] { "key:a", "key:a", "ip:10.0.0.1" })
        {
            await store.Repository.AddAsync(Queued(), client, CancellationToken.None);
        }

        var started = Queued();
        await store.Repository.AddAsync(started, "key:a", CancellationToken.None);
        started.Start(At(1));
        await store.Repository.SaveAsync(started.ToMemento(), CancellationToken.None);

        Assert.Equal(3, await store.Repository.CountQueuedAsync(null, CancellationToken.None));
        Assert.Equal(2, await store.Repository.CountQueuedAsync("key:a", CancellationToken.None));
        Assert.Equal(0, await store.Repository.CountQueuedAsync("key:b", CancellationToken.None));
    }

    [SkippableTheory]
    [MemberData(nameof(Providers))]
    public async Task Repository_DeleteFinished_RemovesOnlyJobsThatEndedBeforeTheCutoffWithTheirFrames(string provider)
    {
        await using var store = await OpenAsync(provider);
        var old = await FinishedAsync(store.Repository, endedAt: At(10));
        var recent = await FinishedAsync(store.Repository, endedAt: At(100));
        var running = Queued();
        await store.Repository.AddAsync(running, null, CancellationToken.None);
        running.Start(At(5));
        await store.Repository.SaveAsync(running.ToMemento(), CancellationToken.None);

        Assert.Equal(1, await store.Repository.DeleteFinishedAsync(At(50), CancellationToken.None));

        Assert.Null(await store.Repository.FindStateAsync(old, CancellationToken.None));
        Assert.Null(await store.Repository.ReadFramesAsync(old, 0, 10, CancellationToken.None));
        Assert.NotNull(await store.Repository.FindStateAsync(recent, CancellationToken.None));
        Assert.NotNull(await store.Repository.FindStateAsync(running.Id, CancellationToken.None));
    }

    [SkippableTheory]
    [MemberData(nameof(Providers))]
    public async Task Repository_List_PagesNewestFirstByStatusAndCursor(string provider)
    {
        await using var store = await OpenAsync(provider);
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            var job = Job.Queue(Guid.CreateVersion7(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], At(i));
            await store.Repository.AddAsync(job, null, CancellationToken.None);
            ids.Add(job.Id);
        }

        var first = await store.Repository.ListAsync(JobStatus.Queued, 2, null, CancellationToken.None);
        var second = await store.Repository.ListAsync(
            JobStatus.Queued, 10, new JobPageCursor(first[^1].CreatedAt, first[^1].Id), CancellationToken.None);

        Assert.Equal(ids.AsEnumerable().Reverse(), first.Concat(second).Select(j => j.Id));
        Assert.Empty(await store.Repository.ListAsync(JobStatus.Failed, 10, null, CancellationToken.None));
        Assert.Equal(ids, (await store.Repository.ListUnfinishedAsync(CancellationToken.None)).Select(j => j.Id));
    }

    private static DateTimeOffset At(int seconds) => new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero).AddSeconds(seconds);

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static Job Queued() => Job.Queue(Guid.CreateVersion7(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], At(0));

    private static async Task<Guid> FinishedAsync(IJobRepository repository, DateTimeOffset endedAt)
    {
        var job = Queued();
        await repository.AddAsync(job, null, CancellationToken.None);
        job.Start(endedAt.AddSeconds(-1));
        job.RecordFrameResult(FrameResult.IdFor(1), 1, 33.3, "frame_quality", Json("{}"), 1);
        job.Complete(endedAt);
        await repository.SaveAsync(job.ToMemento(), CancellationToken.None);
        return job.Id;
    }

    private async Task<Store> OpenAsync(string provider)
    {
        var folder = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var connectionString = provider == StorageProviders.Postgres
            ? await postgres.CreateDatabaseAsync()
            : $"Data Source={Path.Combine(folder, "jobs.db")}";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = provider, ["ConnectionStrings:Jobs"] = connectionString, ["Media:Root"] = folder,
        }).Build();
        var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration);
        services.AddInfrastructure(configuration);
        var provided = services.BuildServiceProvider();
        await provided.GetRequiredService<DatabaseInitializer>().StartingAsync(CancellationToken.None);
        return new Store(provided, provided.GetRequiredService<IJobRepository>(), folder);
    }

    private sealed record Store(ServiceProvider Services, IJobRepository Repository, string Folder) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Services.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(Folder, recursive: true);
        }
    }
}

internal static class StorageProviders
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";
}
