using System.Collections.Concurrent;
using System.Collections.Immutable;
using CleanRealtime.Application.Realtime;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Api.Realtime;

/// <summary>
/// This node's open connections (SignalR's HubConnectionStore): admission within the limits of API.md §3.1 (server-wide,
/// per session and per client) and copy-on-write subscriber sets, changed under a lock one entry at a time and read
/// without a lock by <see cref="LocalFanOut"/>.
/// </summary>
/// <remarks>
/// It lives beside the sessions because only they add and remove connections, and only the fan-out beside it reads
/// them: no Application code needs to know that connections exist. A connection never removes itself: the session that
/// added it removes it when the connection's writer has ended (<see cref="RealtimeSessions"/>), as SignalR's
/// HubConnectionHandler does in its <c>finally</c>.
/// </remarks>
public sealed partial class ConnectionStore(IOptions<RealtimeOptions> options, ILogger<ConnectionStore> logger)
{
    private readonly RealtimeOptions _options = options.Value;
    private readonly ConcurrentDictionary<Guid, Connection> _subscribers = new();
    private readonly Dictionary<Guid, int> _perSession = [];
    private readonly Dictionary<string, int> _perClient = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private Connection[] _everyone = [];
    private Connection[] _allJobs = [];
    private ImmutableDictionary<Guid, Connection[]> _byJob = ImmutableDictionary<Guid, Connection[]>.Empty;
    private long _closedSent;
    private long _closedDropped;

    public int Count => _subscribers.Count;

    public IReadOnlyList<Connection> Subscribers => [.. _subscribers.Values];

    /// <summary>Messages sent to and dropped by every connection of this node since it started, closed ones included.</summary>
    public (long Sent, long Dropped) DeliveryTotals
    {
        get
        {
            // Under the lock, so a connection closing now is counted once: either open or closed.
            lock (_gate)
            {
                long sent = _closedSent, dropped = _closedDropped;
                foreach (var subscriber in _everyone)
                {
                    sent += subscriber.Sent;
                    dropped += subscriber.Dropped;
                }

                return (sent, dropped);
            }
        }
    }

    /// <summary>Admits a connection, or says why not (the reason of a 4001 refusal).</summary>
    public string? TryAdd(Connection subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        lock (_gate)
        {
            if (_subscribers.Count >= _options.MaxConnections)
            {
                return $"capacity exceeded: the server takes {_options.MaxConnections} connections";
            }

            if (subscriber.SessionId is { } session && _perSession.GetValueOrDefault(session) >= _options.MaxConnectionsPerSession)
            {
                return $"capacity exceeded: a session may open {_options.MaxConnectionsPerSession} connections";
            }

            if (subscriber.Client is { } client && _perClient.GetValueOrDefault(client) >= _options.MaxConnectionsPerClient)
            {
                return $"capacity exceeded: a client may open {_options.MaxConnectionsPerClient} connections";
            }

            _subscribers[subscriber.Id] = subscriber;
            if (subscriber.SessionId is { } s)
            {
                _perSession[s] = _perSession.GetValueOrDefault(s) + 1;
            }

            if (subscriber.Client is { } c)
            {
                _perClient[c] = _perClient.GetValueOrDefault(c) + 1;
            }

            Volatile.Write(ref _everyone, [.. _everyone, subscriber]);
            if (subscriber.JobId is { } job)
            {
                Volatile.Write(ref _byJob, _byJob.SetItem(job, [.. _byJob.GetValueOrDefault(job, []), subscriber]));
            }
            else
            {
                Volatile.Write(ref _allJobs, [.. _allJobs, subscriber]);
            }
        }

        LogAdded(subscriber.Id, subscriber.JobId, subscriber.SessionId, _subscribers.Count);
        return null;
    }

    /// <summary>Forgets a connection whose writer has ended (idempotent).</summary>
    public void Remove(Connection subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        lock (_gate)
        {
            if (!_subscribers.TryRemove(subscriber.Id, out _))
            {
                return;
            }

            // Removed once its writer has ended: its counts are final.
            _closedSent += subscriber.Sent;
            _closedDropped += subscriber.Dropped;

            if (subscriber.SessionId is { } s)
            {
                Release(_perSession, s);
            }

            if (subscriber.Client is { } c)
            {
                Release(_perClient, c);
            }

            Volatile.Write(ref _everyone, Without(_everyone, subscriber));
            if (subscriber.JobId is { } job)
            {
                var rest = Without(_byJob.GetValueOrDefault(job, []), subscriber);
                Volatile.Write(ref _byJob, rest.Length == 0 ? _byJob.Remove(job) : _byJob.SetItem(job, rest));
            }
            else
            {
                Volatile.Write(ref _allJobs, Without(_allJobs, subscriber));
            }
        }

        LogRemoved(subscriber.Id, _subscribers.Count);
    }

    /// <summary>
    /// Who receives a message about <paramref name="jobId"/> (null: about no job): <c>Primary</c> are the connections
    /// that take it whatever job it is about, <c>Followers</c> those following that job. No lock, no copy.
    /// </summary>
    internal (Connection[] Primary, Connection[] Followers) Route(Guid? jobId)
    {
        var primary = jobId is null ? Volatile.Read(ref _everyone) : Volatile.Read(ref _allJobs);
        var followers = jobId is { } id && Volatile.Read(ref _byJob).TryGetValue(id, out var f) ? f : [];
        return (primary, followers);
    }

    internal bool HasSubscribers(Guid? jobId) =>
        jobId is { } id
            ? Volatile.Read(ref _allJobs).Length > 0 || Volatile.Read(ref _byJob).ContainsKey(id)
            : Volatile.Read(ref _everyone).Length > 0;

    private static void Release<TKey>(Dictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        var left = counts[key] - 1;
        if (left == 0)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = left;
        }
    }

    private static Connection[] Without(Connection[] subscribers, Connection removed) =>
        Array.FindAll(subscribers, s => !ReferenceEquals(s, removed));

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} stored (job {JobId}, session {SessionId}); {Open} open")]
    private partial void LogAdded(Guid connectionId, Guid? jobId, Guid? sessionId, int open);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} removed; {Open} open")]
    private partial void LogRemoved(Guid connectionId, int open);
}
