namespace CleanRealtime.Application.Common;

/// <summary>
/// The highest <c>seq</c> of each job that its publisher may have handed to any subscriber: in a cluster what it handed to
/// the other nodes (the backplane records it atomically with each send); on one node the high-water mark it reserved in
/// the store before publishing (<see cref="ISeqReservations"/>). The store lags the live feed, so a job whose publisher
/// died is ended after this, never after the last <c>seq</c> stored: a <c>seq</c> is assigned once (API.md §3.8), also
/// after a kill -9 and in a cluster.
/// </summary>
public interface IPublishedSeqs
{
    /// <summary>
    /// Closes the job on the backplane, for a job whose publisher is gone: from now on nothing its publisher may still
    /// send (sends it queued before it died, or a worker that lost its lease without knowing) reaches another node.
    /// Returns the highest <c>seq</c> of the job sent to other nodes before, 0 when none was. Throws
    /// <see cref="PublishedSeqsUnavailableException"/> when that cannot be known now (the backplane is unreachable).
    /// </summary>
    Task<long> CloseAsync(Guid jobId, CancellationToken cancellationToken);
}

/// <summary>
/// Nothing recorded: a host with the application alone (no store of its own). A server registers the store's
/// reservations (one node) or the backplane's record (a cluster) instead.
/// </summary>
internal sealed class NoPublishedSeqs : IPublishedSeqs
{
    public Task<long> CloseAsync(Guid jobId, CancellationToken cancellationToken) => Task.FromResult(0L);
}

/// <summary>The backplane that records the published <c>seq</c>s cannot be asked now; whatever needs them waits for it.</summary>
public sealed class PublishedSeqsUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
