using CleanRealtime.Application.Common;
using StackExchange.Redis;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// The highest <c>seq</c> of each job published through Redis, from the key the publish script raises with every batch
/// (<see cref="BackplaneScripts.LastSeqKey"/>), read in the same step that closes the job (<see cref="BackplaneScripts.ClosedKey"/>).
/// Unknown (<see cref="PublishedSeqsUnavailableException"/>) while Redis does not answer within <see cref="Timeout"/>.
/// </summary>
/// <remarks>
/// What lets another node end a job whose worker died after the last message any node could have received
/// (<see cref="IPublishedSeqs"/>): closing and reading are one script, so nothing is relayed for the job afterwards.
/// </remarks>
internal sealed class RedisPublishedSeqs(RedisLink link, TimeProvider time) : IPublishedSeqs
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<long> CloseAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var redis = link.Connection;
        if (redis is not { IsConnected: true })
        {
            throw new PublishedSeqsUnavailableException("Redis is not connected.");
        }

        try
        {
            var value = await BackplaneScripts.CloseAsync(redis.GetDatabase(), jobId).WaitAsync(Timeout, time, cancellationToken);
            return value.IsNull ? 0 : (long)value;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw new PublishedSeqsUnavailableException($"Redis did not answer which seq of job {jobId} was published last.", ex);
        }
    }
}
