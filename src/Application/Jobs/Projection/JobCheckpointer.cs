using System.Collections.Concurrent;
using System.Threading.Channels;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Domain.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Jobs.Projection;

/// <summary>
/// Writes running jobs to the repository in the background, coalescing requests, so the runner never waits on disk
/// per frame. Saves are serialized: the repository appends the frames it has not stored yet.
/// </summary>
public sealed partial class JobCheckpointer(
    LiveJobs live, IJobRepository repository, IOptions<JobsOptions> options, TimeProvider time, ILogger<JobCheckpointer> logger) : IDisposable
{
    private readonly Channel<Guid> _requests = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<Guid, byte> _pending = new();
    private readonly SemaphoreSlim _saveGate = new(1, 1);

    /// <summary>Asks for a save of the job's current state soon; returns at once.</summary>
    public void Request(Guid jobId)
    {
        if (_pending.TryAdd(jobId, 0))
        {
            _requests.Writer.TryWrite(jobId);
        }
    }

    /// <summary>Saves now and waits (job state transitions). Returns false, after logging, if the save failed.</summary>
    public async Task<bool> SaveNowAsync(JobMemento job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await _saveGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await repository.SaveAsync(job, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogSaveFailed(ex, job.Id, job.Status.ToWire());
            return false;
        }
        finally
        {
            _saveGate.Release();
        }
    }

    /// <summary>
    /// The background loop (run by a hosted service). After each save it rests for the checkpoint interval, so a fast
    /// job is written about once a second rather than at every percent; requests made meanwhile are coalesced.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await foreach (var jobId in _requests.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            _pending.TryRemove(jobId, out _);
            if (live.TryGet(jobId, out var job))
            {
                await SaveNowAsync(job.Snapshot(), stoppingToken).ConfigureAwait(false);
                await Task.Delay(options.Value.CheckpointInterval, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    public void Dispose() => _saveGate.Dispose();

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not save job {JobId} ({Status}); the next checkpoint will retry")]
    private partial void LogSaveFailed(Exception exception, Guid jobId, string status);
}
