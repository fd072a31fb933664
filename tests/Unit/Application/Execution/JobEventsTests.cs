using System.Collections.Concurrent;
using CleanRealtime.Application;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.UnitTests.Application.Execution;

/// <summary>The projection applies each event before anything else sees it, whatever order the handlers were registered in.</summary>
public sealed class JobEventsTests
{
    [Fact]
    public async Task Publish_HandlerRegisteredBeforeEveryOther_SeesTheJobWithTheEventAlreadyApplied()
    {
        var observer = new StateObserver();

        // Registered first of all, before AddApplication's own handlers: by registration order it would hear every event first.
        using var h = RunnerHarness.Create(
            [TestPlugin.Echo("first"), TestPlugin.Echo("second")], frames: 3,
            configure: services =>
            {
                services.Insert(0, ServiceDescriptor.Singleton<INotificationHandler<JobStarted>>(observer));
                services.Insert(0, ServiceDescriptor.Singleton<INotificationHandler<FrameAnalyzed>>(observer));
                services.Insert(0, ServiceDescriptor.Singleton<INotificationHandler<ProgressChanged>>(observer));
                services.Insert(0, ServiceDescriptor.Singleton<INotificationHandler<JobFinished>>(observer));
            });
        observer.Live = h.LiveJobs;

        await h.RunAsync();

        Assert.Equal(JobStatus.Completed, h.Job.Status);
        Assert.Equal(
            [
                "started: running",
                "progress 0: 0", "frame-000001/first: recorded", "frame-000001/second: recorded", "progress 33: 33",
                "frame-000002/first: recorded", "frame-000002/second: recorded", "progress 66: 66",
                "frame-000003/first: recorded", "frame-000003/second: recorded", "progress 99: 99",
                "finished completed: completed",
            ],
            observer.Seen);
    }

    [Fact]
    public void AddApplication_RegistersTheProjectionOnce_AndAsNoHandler()
    {
        var services = new ServiceCollection();
        services.AddApplication();

        Assert.Single(services, d => d.ServiceType == typeof(JobProjection));
        Assert.DoesNotContain(services, d => d.ImplementationType == typeof(JobProjection) && d.ServiceType != typeof(JobProjection));
    }

    /// <summary>Writes down, for each event, the state of the live job as the handler finds it.</summary>
    private sealed class StateObserver :
        INotificationHandler<JobStarted>, INotificationHandler<FrameAnalyzed>, INotificationHandler<ProgressChanged>, INotificationHandler<JobFinished>
    {
        private readonly ConcurrentQueue<string> _seen = new();

        public LiveJobs? Live { get; set; }

        public IReadOnlyList<string> Seen => [.. _seen];

        public Task Handle(JobStarted notification, CancellationToken cancellationToken)
        {
            _seen.Enqueue($"started: {State(notification.JobId).Status.ToWire()}");
            return Task.CompletedTask;
        }

        public Task Handle(FrameAnalyzed notification, CancellationToken cancellationToken)
        {
            var live = Live!.TryGet(notification.JobId, out var job) ? job : throw new InvalidOperationException("The job is not live.");
            var recorded = live.Frames(0, 100).Items.Any(f => f.FrameId == notification.FrameId && f.Results.ContainsKey(notification.Plugin));
            _seen.Enqueue($"{notification.FrameId}/{notification.Plugin}: {(recorded ? "recorded" : "missing")}");
            return Task.CompletedTask;
        }

        public Task Handle(ProgressChanged notification, CancellationToken cancellationToken)
        {
            _seen.Enqueue($"progress {notification.Progress}: {State(notification.JobId).Progress}");
            return Task.CompletedTask;
        }

        public Task Handle(JobFinished notification, CancellationToken cancellationToken)
        {
            _seen.Enqueue($"finished {notification.Status.ToWire()}: {State(notification.JobId).Status.ToWire()}");
            return Task.CompletedTask;
        }

        private JobMemento State(Guid jobId) =>
            Live!.TryGet(jobId, out var job) ? job.Snapshot(includeFrames: false) : throw new InvalidOperationException("The job is not live.");
    }
}
