using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.UnitTests.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class JobCheckpointerTests
{
    [Fact]
    public async Task RunAsync_ManyRequestsWithinTheInterval_AreCoalescedIntoOneSaveAfterIt()
    {
        var clock = new FakeTimeProvider();
        var repository = Substitute.For<IJobRepository>();
        var live = new LiveJobs();
        using var checkpointer = new JobCheckpointer(
            live, repository, Options.Create(new JobsOptions { CheckpointInterval = TimeSpan.FromSeconds(1) }), clock,
            NullLogger<JobCheckpointer>.Instance);
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["frame_quality"], clock.GetUtcNow());
        using var running = live.Begin(job);
        using var stop = new CancellationTokenSource();
        var loop = checkpointer.RunAsync(stop.Token);

        checkpointer.Request(job.Id);
        await Eventually.TrueAsync(() => Saves(repository) == 1, "the first request is saved at once");
        for (var i = 0; i < 50; i++)
        {
            checkpointer.Request(job.Id);
        }

        await Task.Delay(100);
        Assert.Equal(1, Saves(repository));

        clock.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => Saves(repository) == 2, "the coalesced requests are saved after the interval");
        await Task.Delay(100);
        Assert.Equal(2, Saves(repository));

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    private static int Saves(IJobRepository repository) =>
        repository.ReceivedCalls().Count(c => c.GetMethodInfo().Name == nameof(IJobRepository.SaveAsync));
}
