using CleanRealtime.Application.Common;
using CleanRealtime.Application.Devices;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Application.Execution;
using MediatR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Jobs.CreateJob;

/// <summary>
/// Accepts an analysis job: records it as queued, picks its device, and hands it to the workers.
/// <paramref name="Client"/> names who submits it (for the per-client queue cap); null counts against the server-wide cap only.
/// </summary>
public sealed record CreateJob(string? Source, string? DeviceRequested, IReadOnlyList<string>? Plugins, string? Client = null)
    : IRequest<JobMemento>;

/// <summary>Serializes job admission, so two submissions cannot both take the last free place in the queue.</summary>
internal sealed class JobAdmission : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(_gate);
    }

    public void Dispose() => _gate.Dispose();

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}

internal sealed partial class CreateJobHandler(
    IJobRepository repository, IJobQueue queue, IDeviceProbe devices, JobAdmission admission, IOptions<JobsOptions> options,
    TimeProvider time, ILogger<CreateJobHandler> logger)
    : IRequestHandler<CreateJob, JobMemento>
{
    /// <summary>What a client refused for a full queue is told to wait before it tries again.</summary>
    public static readonly TimeSpan QueueRetryAfter = TimeSpan.FromSeconds(30);

    public async Task<JobMemento> Handle(CreateJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var requested = request.DeviceRequested is null ? Device.Cpu
            : DeviceExtensions.TryParseWire(request.DeviceRequested, out var parsed) ? parsed
            : throw new ArgumentException("The validator lets only known devices through.", nameof(request));

        var job = Job.Queue(Guid.CreateVersion7(), request.Source!, requested, DeviceFor(requested), [.. request.Plugins!], time.GetUtcNow());

        using (await admission.EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            await EnsureRoomAsync(request.Client, cancellationToken).ConfigureAwait(false);

            // Stored before it is queued: a job that was accepted survives a crash and is run after restart.
            await repository.AddAsync(job, request.Client, cancellationToken).ConfigureAwait(false);
        }

        await queue.EnqueueAsync(job.Id, CancellationToken.None).ConfigureAwait(false);
        LogQueued(job.Id, job.Source, job.DeviceRequested.ToWire(), job.DeviceUsed.ToWire());
        return job.ToMemento();
    }

    private async Task EnsureRoomAsync(string? client, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (await repository.CountQueuedAsync(null, cancellationToken).ConfigureAwait(false) >= limits.MaxQueuedJobs)
        {
            LogRefused(client, "server-wide", limits.MaxQueuedJobs);
            throw new CapacityExceededException(
                $"The server already has {limits.MaxQueuedJobs} jobs waiting for a worker; try again later.", QueueRetryAfter);
        }

        if (client is not null
            && await repository.CountQueuedAsync(client, cancellationToken).ConfigureAwait(false) >= limits.MaxQueuedJobsPerClient)
        {
            LogRefused(client, "per-client", limits.MaxQueuedJobsPerClient);
            throw new CapacityExceededException(
                $"You already have {limits.MaxQueuedJobsPerClient} jobs waiting for a worker; try again when one has started.", QueueRetryAfter);
        }
    }

    private Device DeviceFor(Device requested) =>
        requested is Device.Gpu or Device.Auto && devices.IsAvailable(Device.Gpu) ? Device.Gpu : Device.Cpu;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job refused for client {Client}: the {Cap} queue cap of {Limit} is reached")]
    private partial void LogRefused(string? client, string cap, int limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} queued: source {Source}, device {DeviceRequested} -> {DeviceUsed}")]
    private partial void LogQueued(Guid jobId, string source, string deviceRequested, string deviceUsed);
}
