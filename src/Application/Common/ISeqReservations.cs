namespace CleanRealtime.Application.Common;

/// <summary>
/// Where a job's publisher records, before it hands them out, the <c>seq</c>s it may publish: on one node the job's row in
/// the store, read back by <see cref="IPublishedSeqs"/> when the job is lost (a kill -9 leaves no other trace of what
/// subscribers saw). Reserved a block at a time, so the live feed waits on the store once per block, never per message.
/// </summary>
public interface ISeqReservations
{
    /// <summary>
    /// Records that the job may publish up to <paramref name="throughSeq"/>; returns the <c>seq</c> up to which it may
    /// publish without asking again. Throws <see cref="PublishedSeqsUnavailableException"/> when it could not be recorded.
    /// </summary>
    Task<long> ReserveAsync(Guid jobId, long throughSeq, CancellationToken cancellationToken);
}

/// <summary>
/// Nothing to reserve: with a backplane every send records the highest <c>seq</c> as it happens
/// (<see cref="IPublishedSeqs"/>), and a host with the application alone keeps nothing.
/// </summary>
internal sealed class NoSeqReservations : ISeqReservations
{
    public Task<long> ReserveAsync(Guid jobId, long throughSeq, CancellationToken cancellationToken) => Task.FromResult(long.MaxValue);
}
