using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.UnitTests.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class JobCheckpointerTests
{
    [Fact]
    public async Task RunAsync_ManyRequestsWithinTheInterval_AreCoalescedIntoOneSaveAfterIt()
    {
        var clock = new TimerWatchingClock();
        var repository = Substitute.For<IJobRepository>();
        var live = new LiveJobs();
        using var checkpointer = new JobCheckpointer(
            live, repository, Options.Create(new JobsOptions { CheckpointInterval = TimeSpan.FromSeconds(1) }), clock,
            NullLogger<JobCheckpointer>.Instance);
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], clock.GetUtcNow());
        var other = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], clock.GetUtcNow());
        using var running = live.Begin(job);
        using var runningOther = live.Begin(other);
        using var stop = new CancellationTokenSource();
        var loop = checkpointer.RunAsync(stop.Token);

        checkpointer.Request(job.Id);
        await Eventually.TrueAsync(() => Saves(repository) == 1, "the first request is saved at once");
        for (var i = 0; i < 50; i++)
        {
            checkpointer.Request(job.Id);
        }

        // A request for another job after them: it is saved right after the 50 if they were coalesced into one.
        checkpointer.Request(other.Id);

        // The loop rests for the interval on the clock after each save: while its timer waits, nothing is saved.
        await clock.WaitForTimersAsync(1, "the rest after the first save");
        Assert.Equal(1, Saves(repository));

        clock.Advance(TimeSpan.FromSeconds(1));
        await clock.WaitForTimersAsync(2, "the rest after the second save");
        clock.Advance(TimeSpan.FromSeconds(1));
        await clock.WaitForTimersAsync(3, "the rest after the third save");

        // Three saves, then the loop waits for requests: the 50 made one save, and the other job's came next.
        Assert.Equal([job.Id, job.Id, other.Id], SavedJobs(repository));

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    private static List<Guid> SavedJobs(IJobRepository repository) =>
        [.. repository.ReceivedCalls().Where(c => c.GetMethodInfo().Name == nameof(IJobRepository.SaveAsync)).Select(c => ((JobMemento)c.GetArguments()[0]!).Id)];

    private static int Saves(IJobRepository repository) =>
        repository.ReceivedCalls().Count(c => c.GetMethodInfo().Name == nameof(IJobRepository.SaveAsync));
}
