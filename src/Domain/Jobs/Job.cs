using System.Text.Json;
using CleanRealtime.Domain.Common;

namespace CleanRealtime.Domain.Jobs;

/// <summary>
/// One analysis job: queued → running → completed / failed / cancelled (queued may also be cancelled or failed).
/// Every change goes through a method that guards its invariants.
/// </summary>
public sealed class Job
{
    private readonly List<string> _plugins;
    private readonly List<FrameResult> _frames = [];
    private readonly Dictionary<string, double> _pluginTimings = new(StringComparer.Ordinal);
    private readonly List<string> _warnings = [];

    private Job(Guid id, string source, Device deviceRequested, Device deviceUsed, IEnumerable<string> plugins, DateTimeOffset createdAt)
    {
        Id = id;
        Source = source;
        DeviceRequested = deviceRequested;
        DeviceUsed = deviceUsed;
        _plugins = [.. plugins];
        CreatedAt = createdAt;
        Status = JobStatus.Queued;
    }

    public Guid Id { get; }
    public string Source { get; }
    public Device DeviceRequested { get; }
    public Device DeviceUsed { get; }
    public IReadOnlyList<string> Plugins => _plugins;
    public JobStatus Status { get; private set; }
    public int? Progress { get; private set; }
    public string? Error { get; private set; }
    public DateTimeOffset CreatedAt { get; }
    public DateTimeOffset? StartedAt { get; private set; }
    public DateTimeOffset? CompletedAt { get; private set; }
    public IReadOnlyList<FrameResult> Frames => _frames;
    public IReadOnlyDictionary<string, double> PluginTimings => _pluginTimings;
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>True when the job runs on another device than the one asked for (an <c>auto</c> request never falls back).</summary>
    public bool Fallback => DeviceRequested != Device.Auto && DeviceUsed != DeviceRequested;

    public static Job Queue(Guid id, string source, Device deviceRequested, Device deviceUsed, IReadOnlyCollection<string> plugins, DateTimeOffset now)
    {
        if (id == Guid.Empty)
        {
            throw new DomainRuleException("A job needs an id.");
        }

        if (string.IsNullOrWhiteSpace(source))
        {
            throw new DomainRuleException("A job needs a source.");
        }

        if (deviceUsed == Device.Auto)
        {
            throw new DomainRuleException("A job runs on a concrete device, not 'auto'.");
        }

        if (plugins.Count == 0 || plugins.Distinct(StringComparer.Ordinal).Count() != plugins.Count)
        {
            throw new DomainRuleException("A job needs one or more distinct plugins.");
        }

        return new Job(id, source, deviceRequested, deviceUsed, plugins, now);
    }

    /// <summary>Rebuilds a stored job exactly as it was recorded; used by persistence only.</summary>
    public static Job Restore(JobMemento m)
    {
        ArgumentNullException.ThrowIfNull(m);
        var job = new Job(m.Id, m.Source, m.DeviceRequested, m.DeviceUsed, m.Plugins, m.CreatedAt)
        {
            Status = m.Status,
            Progress = m.Progress,
            Error = m.Error,
            StartedAt = m.StartedAt,
            CompletedAt = m.CompletedAt,
        };
        job._frames.AddRange(m.Frames.OrderBy(f => f.Index));
        foreach (var (plugin, ms) in m.PluginTimings)
        {
            job._pluginTimings[plugin] = ms;
        }

        job._warnings.AddRange(m.Warnings);
        return job;
    }

    public void Start(DateTimeOffset now)
    {
        EnsureStatus(JobStatus.Queued, "start");
        Status = JobStatus.Running;
        StartedAt = now;
        Progress = 0;
    }

    public void ReportProgress(int progress)
    {
        EnsureStatus(JobStatus.Running, "report progress on");
        if (progress is < 0 or > 100)
        {
            throw new DomainRuleException($"Progress must be between 0 and 100, not {progress}.");
        }

        if (Progress is { } current && progress < current)
        {
            throw new DomainRuleException($"Progress cannot go back from {current} to {progress}.");
        }

        Progress = progress;
    }

    /// <summary>Adds one plugin's result for a frame; the first result of a new frame appends that frame.</summary>
    public void RecordFrameResult(string frameId, int index, double timestampMs, string plugin, JsonElement data, double timingMs)
    {
        EnsureStatus(JobStatus.Running, "record a frame on");
        EnsureKnownPlugin(plugin);
        if (!double.IsFinite(timingMs) || timingMs < 0)
        {
            throw new DomainRuleException("A plugin timing must be a finite number of milliseconds, not negative.");
        }

        var last = _frames.Count == 0 ? null : _frames[^1];
        if (last is not null && last.FrameId == frameId)
        {
            if (last.Results.ContainsKey(plugin))
            {
                throw new DomainRuleException($"Frame {frameId} already has a result from {plugin}.");
            }

            var results = new Dictionary<string, JsonElement>(last.Results, StringComparer.Ordinal) { [plugin] = data };
            _frames[^1] = last with { Results = results };
        }
        else
        {
            if (last is not null && index <= last.Index)
            {
                throw new DomainRuleException($"Frame {index} arrives after frame {last.Index}.");
            }

            _frames.Add(new FrameResult(frameId, index, timestampMs, new Dictionary<string, JsonElement>(StringComparer.Ordinal) { [plugin] = data }));
        }

        AddTiming(plugin, timingMs);
    }

    /// <summary>
    /// Sets a plugin's final total when it stops; it includes time not tied to a recorded frame (a frame it crashed on),
    /// so it can only be equal to or above what the frames added up to.
    /// </summary>
    public void SettlePluginTiming(string plugin, double totalMs)
    {
        EnsureKnownPlugin(plugin);
        var current = _pluginTimings.GetValueOrDefault(plugin);
        if (!double.IsFinite(totalMs) || totalMs < current - 1e-6)
        {
            throw new DomainRuleException($"Plugin '{plugin}' total {totalMs} ms must be finite and not below the {current} ms already recorded.");
        }

        _pluginTimings[plugin] = totalMs;
    }

    private void AddTiming(string plugin, double timingMs) =>
        _pluginTimings[plugin] = _pluginTimings.GetValueOrDefault(plugin) + timingMs;

    /// <summary>Warnings are kept in the order raised and never de-duplicated.</summary>
    public void AddWarning(string warning)
    {
        if (Status.IsFinished())
        {
            throw new DomainRuleException($"Job {Id} is {Status.ToWire()}; it takes no more warnings.");
        }

        if (string.IsNullOrWhiteSpace(warning))
        {
            throw new DomainRuleException("A warning needs a message.");
        }

        _warnings.Add(warning);
    }

    public void Complete(DateTimeOffset now)
    {
        EnsureStatus(JobStatus.Running, "complete");
        Status = JobStatus.Completed;
        Progress = 100;
        CompletedAt = now;
    }

    public void Fail(string reason, DateTimeOffset now)
    {
        if (Status.IsFinished())
        {
            throw new DomainRuleException($"Job {Id} is already {Status.ToWire()}.");
        }

        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new DomainRuleException("A failed job needs a reason.");
        }

        Status = JobStatus.Failed;
        Progress = 100;
        Error = reason;
        CompletedAt = now;
    }

    public void Cancel(DateTimeOffset now)
    {
        if (Status.IsFinished())
        {
            throw new DomainRuleException($"Job {Id} is already {Status.ToWire()} and cannot be cancelled.");
        }

        Status = JobStatus.Cancelled;
        Progress = 100;
        CompletedAt = now;
    }

    /// <param name="includeFrames">False for the job's state alone (the frames list is its only part that grows with the video).</param>
    public JobMemento ToMemento(bool includeFrames = true) => new(
        Id, Source, DeviceRequested, DeviceUsed, [.. _plugins], Status, Progress, Error, CreatedAt, StartedAt, CompletedAt,
        includeFrames ? [.. _frames] : [], new Dictionary<string, double>(_pluginTimings, StringComparer.Ordinal), [.. _warnings]);

    private void EnsureStatus(JobStatus expected, string action)
    {
        if (Status != expected)
        {
            throw new DomainRuleException($"Cannot {action} job {Id}: it is {Status.ToWire()}, not {expected.ToWire()}.");
        }
    }

    private void EnsureKnownPlugin(string plugin)
    {
        if (!_plugins.Contains(plugin, StringComparer.Ordinal))
        {
            throw new DomainRuleException($"Plugin '{plugin}' is not part of job {Id}.");
        }
    }
}

/// <summary>An immutable copy of a job's whole state: what persistence stores and what readers see.</summary>
public sealed record JobMemento(
    Guid Id,
    string Source,
    Device DeviceRequested,
    Device DeviceUsed,
    IReadOnlyList<string> Plugins,
    JobStatus Status,
    int? Progress,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    IReadOnlyList<FrameResult> Frames,
    IReadOnlyDictionary<string, double> PluginTimings,
    IReadOnlyList<string> Warnings)
{
    public bool Fallback => DeviceRequested != Device.Auto && DeviceUsed != DeviceRequested;
}
