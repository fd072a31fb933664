using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Jobs;
using MediatR;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace CleanRealtime.Infrastructure.Metrics;

/// <summary>
/// What <c>GET /metrics</c> reports (Prometheus text format, API.md §6), in a registry of this server's own (so several
/// servers in one process, as in the tests, never mix their figures). Counters and the plugin-time histogram are fed as
/// things happen; the gauges are read when Prometheus scrapes. The realtime connections' figures are added to the same
/// <see cref="Registry"/> by the Api, which owns the connections (its <c>Diagnostics/RealtimeMetrics</c>).
/// </summary>
public sealed class ServerMetrics
{
    private readonly Gauge _jobs;
    private readonly Gauge _jobQueue;
    private readonly Counter _backplane;

    /// <param name="services">
    /// Where <see cref="RemoteJobStreams"/> is found when Prometheus scrapes: it is not a constructor dependency because
    /// it depends, through the job streams and the backplane, on these metrics.
    /// </param>
    public ServerMetrics(IJobRepository repository, JobEventWriter eventLog, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(eventLog);
        ArgumentNullException.ThrowIfNull(repository);
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        FramesAnalysed = factory.CreateCounter(
            "cleanrealtime_frames_analysed_total", "Frames analysed, per plugin.", new CounterConfiguration { LabelNames = ["plugin"] });
        PluginSeconds = factory.CreateHistogram(
            "cleanrealtime_plugin_seconds", "Time one plugin spent on one frame.",
            new HistogramConfiguration { LabelNames = ["plugin"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        JobsFinished = factory.CreateCounter(
            "cleanrealtime_jobs_finished_total", "Jobs that ended on this node, by final status.", new CounterConfiguration { LabelNames = ["status"] });
        _jobs = factory.CreateGauge("cleanrealtime_jobs", "Jobs in the store, by status.", new GaugeConfiguration { LabelNames = ["status"] });
        _jobQueue = factory.CreateGauge("cleanrealtime_job_queue_depth", "Jobs waiting for a worker.");
        _backplane = factory.CreateCounter(
            "cleanrealtime_backplane_messages_total",
            "Job messages through the Redis backplane: sent to the other nodes, received from them, or not sent (link down or outbox full; the other nodes read them from the event log).",
            new CounterConfiguration { LabelNames = ["direction"] });
        BackplaneSent = _backplane.WithLabels("sent");
        BackplaneReceived = _backplane.WithLabels("received");
        BackplaneNotSent = _backplane.WithLabels("dropped");
        BackplaneLatency = factory.CreateHistogram(
            "cleanrealtime_backplane_publish_seconds",
            "From a message's publication on the node running its job to its arrival on this node through Redis (node clocks assumed in sync).",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });

        var lost = factory.CreateCounter(
            "cleanrealtime_event_log_lost_messages_total",
            "Job messages published on this node that the event log could not store after every retry (a replay over them answers REPLAY_UNAVAILABLE).");
        var failures = factory.CreateCounter(
            "cleanrealtime_event_log_write_failures_total", "Failed attempts to write a batch of job messages to the event log (each retry counts).");
        var gaps = factory.CreateCounter(
            "cleanrealtime_replay_gaps_reported_total",
            "Replays (realtime resume or GET /v1/jobs/{id}/events) on this node that met messages never stored and answered REPLAY_UNAVAILABLE for them.");
        var failing = factory.CreateGauge("cleanrealtime_event_log_failing", "1 while the event log's last write failed, else 0.");
        var mirrored = factory.CreateCounter(
            "cleanrealtime_backplane_gap_messages_total",
            "Messages of jobs run on other nodes that the backplane did not bring to this node: filled from the event log, or skipped (never stored; a replay over them answers REPLAY_UNAVAILABLE).",
            new CounterConfiguration { LabelNames = ["outcome"] });
        var filledFromLog = mirrored.WithLabels("filled_from_log");
        var skipped = mirrored.WithLabels("skipped");

        Registry.AddBeforeCollectCallback(async cancellationToken =>
        {
            var health = eventLog.Health;
            lost.IncTo(health.MessagesLost);
            failures.IncTo(health.WriteFailures);
            gaps.IncTo(health.GapsReported);
            failing.Set(health.Failing is null ? 0 : 1);
            var mirrors = services.GetRequiredService<RemoteJobStreams>();
            filledFromLog.IncTo(mirrors.FilledFromLog);
            skipped.IncTo(mirrors.Skipped);

            var counts = await repository.CountByStatusAsync(cancellationToken).ConfigureAwait(false);
            foreach (var status in Enum.GetValues<JobStatus>())
            {
                _jobs.WithLabels(status.ToWire()).Set(counts.GetValueOrDefault(status));
            }

            _jobQueue.Set(counts.GetValueOrDefault(JobStatus.Queued));
        });
    }

    public CollectorRegistry Registry { get; }

    internal Counter FramesAnalysed { get; }

    internal Histogram PluginSeconds { get; }

    internal Counter JobsFinished { get; }

    internal Counter.Child BackplaneSent { get; }

    internal Counter.Child BackplaneReceived { get; }

    internal Counter.Child BackplaneNotSent { get; }

    internal Histogram BackplaneLatency { get; }
}

/// <summary>Feeds the job counters from the runner's events, like any other handler of them.</summary>
internal sealed class JobMetricsHandler(ServerMetrics metrics) : INotificationHandler<FrameAnalyzed>, INotificationHandler<JobFinished>
{
    public Task Handle(FrameAnalyzed notification, CancellationToken cancellationToken)
    {
        metrics.FramesAnalysed.WithLabels(notification.Plugin).Inc();
        metrics.PluginSeconds.WithLabels(notification.Plugin).Observe(notification.TimingMs / 1000);
        return Task.CompletedTask;
    }

    public Task Handle(JobFinished notification, CancellationToken cancellationToken)
    {
        metrics.JobsFinished.WithLabels(notification.Status.ToWire()).Inc();
        return Task.CompletedTask;
    }
}
