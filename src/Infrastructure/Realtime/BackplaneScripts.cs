using CleanRealtime.Application.Realtime.Events;
using StackExchange.Redis;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// What the backplane keeps in Redis and the Lua scripts that change it: the one channel every node publishes its job
/// messages to, each job's "last published <c>seq</c>" key (<see cref="LastSeqKey"/>) and its "closed" fence
/// (<see cref="ClosedKey"/>).
/// </summary>
/// <remarks>
/// Messages are sent in batches by one script that first raises each job's last-seq key and then publishes the
/// messages, atomically: no node can receive a message whose <c>seq</c> the key does not cover, so a job whose worker
/// dies is ended after it (<see cref="RedisPublishedSeqs"/>, which runs the close script). A job closed that way is
/// fenced off: the publish script drops whatever is still sent for it. The keys and scripts live together because
/// that guarantee holds only while both scripts agree on them.
/// </remarks>
internal static class BackplaneScripts
{
    private const string ChannelName = "cleanrealtime:job-messages";

    /// <summary>The channel every node publishes its job messages to and subscribes to.</summary>
    public static readonly RedisChannel Channel = RedisChannel.Literal(ChannelName);

    /// <summary>How long a job's "last published seq" key outlives its last message: long past any lease and reap.</summary>
    public static readonly TimeSpan LastSeqKeyLifetime = TimeSpan.FromDays(1);

    // KEYS: the batch's jobs' last-seq keys, then their closed keys. ARGV[1]: the channel; ARGV[2]: the keys' lifetime in
    // ms; ARGV[3 .. 2+jobs]: each job's highest seq in the batch; then per message its job's index and its bytes, in order.
    // Seqs are compared as numbers and written as given (exact). A closed job's messages are dropped.
    private const string PublishScript = """
        local jobs = #KEYS / 2
        local open = {}
        for i = 1, jobs do
          open[i] = redis.call('EXISTS', KEYS[jobs + i]) == 0
          if open[i] then
            local seq = ARGV[2 + i]
            local current = redis.call('GET', KEYS[i])
            if current == false or tonumber(seq) > tonumber(current) then
              redis.call('SET', KEYS[i], seq, 'PX', ARGV[2])
            else
              redis.call('PEXPIRE', KEYS[i], ARGV[2])
            end
          end
        end
        local sent = 0
        for j = 3 + jobs, #ARGV, 2 do
          if open[tonumber(ARGV[j])] then
            redis.call('PUBLISH', ARGV[1], ARGV[j + 1])
            sent = sent + 1
          end
        end
        return sent
        """;

    // KEYS[1]: the job's last-seq key, KEYS[2]: its closed key; ARGV[1]: the lifetime in ms. Returns the last seq sent.
    private const string CloseScript = """
        redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
        return redis.call('GET', KEYS[1])
        """;

    /// <summary>The key that holds the highest <c>seq</c> of a job any node published through Redis.</summary>
    public static RedisKey LastSeqKey(Guid jobId) => "cleanrealtime:job-last-seq:" + jobId.ToString("N");

    /// <summary>The key that marks a job closed on the backplane (its worker was lost): its messages are no longer relayed.</summary>
    public static RedisKey ClosedKey(Guid jobId) => "cleanrealtime:job-closed:" + jobId.ToString("N");

    /// <summary>Closes the job on the backplane and returns the highest seq relayed before (null: none).</summary>
    public static async Task<RedisValue> CloseAsync(IDatabase database, Guid jobId)
    {
        var result = await database.ScriptEvaluateAsync(
            CloseScript, [LastSeqKey(jobId), ClosedKey(jobId)], [(long)LastSeqKeyLifetime.TotalMilliseconds]);
        return (RedisValue)result;
    }

    /// <summary>Sends a batch: raises each open job's last-seq key, then publishes its messages; a closed job's are dropped.</summary>
    public static Task<RedisResult> PublishAsync(IDatabase database, IReadOnlyList<BackplaneMessage> batch)
    {
        var (keys, values) = PublishArguments(batch);
        return database.ScriptEvaluateAsync(PublishScript, keys, values);
    }

    /// <summary>The keys and arguments of <see cref="PublishScript"/> for a batch: each job's highest seq, then the messages.</summary>
    public static (RedisKey[] Keys, RedisValue[] Values) PublishArguments(IReadOnlyList<BackplaneMessage> batch)
    {
        var highest = new List<(Guid JobId, long Seq)>();
        foreach (var message in batch)
        {
            var index = highest.FindIndex(h => h.JobId == message.JobId);
            if (index < 0)
            {
                highest.Add((message.JobId, message.Seq));
            }
            else if (message.Seq > highest[index].Seq)
            {
                highest[index] = (message.JobId, message.Seq);
            }
        }

        var keys = new RedisKey[2 * highest.Count];
        var values = new RedisValue[2 + highest.Count + (2 * batch.Count)];
        values[0] = ChannelName;
        values[1] = (long)LastSeqKeyLifetime.TotalMilliseconds;
        for (var i = 0; i < highest.Count; i++)
        {
            keys[i] = LastSeqKey(highest[i].JobId);
            keys[highest.Count + i] = ClosedKey(highest[i].JobId);
            values[2 + i] = highest[i].Seq;
        }

        for (var j = 0; j < batch.Count; j++)
        {
            var at = 2 + highest.Count + (2 * j);
            values[at] = highest.FindIndex(h => h.JobId == batch[j].JobId) + 1;
            values[at + 1] = BackplaneWireFormat.Encode(batch[j]);
        }

        return (keys, values);
    }
}
