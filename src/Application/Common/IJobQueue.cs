namespace CleanRealtime.Application.Common;

/// <summary>Ids of accepted jobs waiting for a worker.</summary>
public interface IJobQueue
{
    ValueTask EnqueueAsync(Guid jobId, CancellationToken cancellationToken);

    IAsyncEnumerable<Guid> ReadAllAsync(CancellationToken cancellationToken);
}
