using CleanRealtime.Application.Common;
using CleanRealtime.Application.Devices;
using CleanRealtime.Domain.Jobs;
using MediatR;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Jobs.CreateJob;

/// <summary>Accepts an analysis job: records it as queued, picks its device, and hands it to the workers.</summary>
public sealed record CreateJob(string? Source, string? DeviceRequested, IReadOnlyList<string>? Plugins) : IRequest<JobMemento>;

public sealed partial class CreateJobHandler(
    IJobRepository repository, IJobQueue queue, IDeviceProbe devices, TimeProvider time, ILogger<CreateJobHandler> logger)
    : IRequestHandler<CreateJob, JobMemento>
{
    public async Task<JobMemento> Handle(CreateJob request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var requested = request.DeviceRequested is null ? Device.Cpu
            : DeviceExtensions.TryParseWire(request.DeviceRequested, out var parsed) ? parsed
            : throw new ArgumentException("The validator lets only known devices through.", nameof(request));

        var job = Job.Queue(Guid.CreateVersion7(), request.Source!, requested, DeviceFor(requested), [.. request.Plugins!], time.GetUtcNow());

        // Stored before it is queued: a job that was accepted survives a crash and is run after restart.
        await repository.AddAsync(job, cancellationToken).ConfigureAwait(false);
        await queue.EnqueueAsync(job.Id, CancellationToken.None).ConfigureAwait(false);
        LogQueued(job.Id, job.Source, job.DeviceRequested.ToWire(), job.DeviceUsed.ToWire());
        return job.ToMemento();
    }

    private Device DeviceFor(Device requested) =>
        requested is Device.Gpu or Device.Auto && devices.IsAvailable(Device.Gpu) ? Device.Gpu : Device.Cpu;

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} queued: source {Source}, device {DeviceRequested} -> {DeviceUsed}")]
    private partial void LogQueued(Guid jobId, string source, string deviceRequested, string deviceUsed);
}
