using System.Runtime.CompilerServices;
using CleanRealtime.Api.Realtime;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.IntegrationTests.Performance;

/// <summary>
/// Connect/disconnect cycles over real sockets must leave none of the project's per-connection objects behind: not
/// in the manager, not as a pending writer task, and not reachable at all (weak references after a full GC).
/// </summary>
[Collection(PerformanceCollection.Name)]
public sealed class ConnectionLeakTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task ConnectionManagerMemoryLeak()
    {
        var manager = server.Services.GetRequiredService<RealtimeSessions>();
        await CycleAsync(manager, 10, keepAlive: null); // warm-up: pools, JIT, caches
        var baseline = manager.Count;

        var tracked = await CycleAsync(manager, 100, keepAlive: null);

        Assert.Equal(baseline, manager.Count);
        Assert.All(tracked.Completions, t => Assert.True(t.IsCompleted, "a connection's writer task is still running"));
        var alive = CountAlive(tracked.Connections);
        Assert.True(alive <= 1, $"{alive} of 100 closed connections are still reachable");
    }

    [Fact]
    public async Task LeakCheck_WithDeliberateLeak_ReportsTheLeakedConnections()
    {
        var manager = server.Services.GetRequiredService<RealtimeSessions>();
        var leak = new List<Connection>();

        var tracked = await CycleAsync(manager, 20, keepAlive: leak);

        Assert.Equal(20, CountAlive(tracked.Connections));
        GC.KeepAlive(leak);
    }

    private async Task<(List<WeakReference> Connections, List<Task> Completions)> CycleAsync(
        RealtimeSessions manager, int cycles, List<Connection>? keepAlive)
    {
        var weak = new List<WeakReference>(cycles);
        var completions = new List<Task>(cycles);
        for (var i = 0; i < cycles; i++)
        {
            var (reference, completion) = await OneCycleAsync(manager, keepAlive);
            weak.Add(reference);
            completions.Add(completion);
        }

        return (weak, completions);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private async Task<(WeakReference, Task)> OneCycleAsync(RealtimeSessions manager, List<Connection>? keepAlive)
    {
        var before = manager.Connections.Select(c => c.Id).ToHashSet();
        var client = await LoadDriver.ConnectReadyAsync(server);
        var connection = manager.Connections.Single(c => !before.Contains(c.Id));
        keepAlive?.Add(connection);
        await client.DisposeAsync();
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitUntilAsync(() => manager.Connections.All(c => c.Id != connection.Id));
        return (new WeakReference(connection), connection.Completion);
    }

    private static int CountAlive(IEnumerable<WeakReference> references)
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return references.Count(r => r.IsAlive);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "condition not met within 2 s");
    }
}
