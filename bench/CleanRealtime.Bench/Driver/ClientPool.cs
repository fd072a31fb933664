using System.Diagnostics;
using System.Net.WebSockets;

namespace CleanRealtime.Bench.Driver;

/// <summary>Opens and closes many <see cref="BenchClient"/>s, a bounded number at a time, every wait bounded.</summary>
internal static class ClientPool
{
    public static async Task<(List<BenchClient> Clients, int Failed)> ConnectAsync(
        Uri uri, int count, int parallel, int bufferBytes, CancellationToken cancellationToken)
    {
        var slots = new BenchClient?[count];
        var next = -1;
        var failed = 0;
        var workers = Enumerable.Range(0, Math.Clamp(parallel, 1, count)).Select(async _ =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= count)
                {
                    return;
                }

                try
                {
                    slots[i] = await BenchClient.ConnectAsync(uri, bufferBytes, TimeSpan.FromSeconds(20), cancellationToken);
                }
                catch (Exception ex) when (ex is WebSocketException or HttpRequestException or IOException
                                               or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        });
        await Task.WhenAll(workers);
        return ([.. slots.OfType<BenchClient>()], failed);
    }

    /// <summary>Waits (bounded) until every client got its welcome; returns how many did.</summary>
    public static async Task<int> WaitWelcomedAsync(IReadOnlyList<BenchClient> clients, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var welcomed = clients.Count(c => c.Welcomed.IsCompletedSuccessfully);
            var settled = clients.Count(c => c.Welcomed.IsCompleted);
            if (settled == clients.Count || clock.Elapsed > timeout)
            {
                return welcomed;
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Closes every client with the handshake, a bounded number at a time.</summary>
    public static async Task CloseAsync(IReadOnlyList<BenchClient> clients, int parallel = 64)
    {
        using var gate = new SemaphoreSlim(parallel);
        await Task.WhenAll(clients.Select(async c =>
        {
            await gate.WaitAsync();
            try
            {
                await c.DisposeAsync();
            }
            finally
            {
                gate.Release();
            }
        }));
    }
}
