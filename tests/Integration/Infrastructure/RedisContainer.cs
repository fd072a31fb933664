using System.Net;
using System.Net.Sockets;
using Testcontainers.Redis;
using RedisServer = Testcontainers.Redis.RedisContainer;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>
/// One Redis container for the tests of the <see cref="PostgresCollection"/> that need the backplane. Started only when
/// <c>scripts/test.sh</c> found Docker (<c>CLEANREALTIME_CONTAINER_TESTS=on</c>); otherwise the tests that need it report
/// themselves skipped with <see cref="PostgresContainer.SkipReason"/>. The image name comes from the environment
/// (<c>CLEANREALTIME_REDIS_IMAGE</c>, the official <c>redis:7.0</c> by default). Its host port is fixed for the
/// container's life, so the nodes find it again after <see cref="RestartAsync"/>.
/// </summary>
public sealed class RedisContainer : IAsyncLifetime
{
    private RedisServer? _container;
    private int _port;

    public static bool Enabled => PostgresContainer.Enabled;

    /// <summary>The StackExchange.Redis configuration string of the container.</summary>
    public string ConnectionString
    {
        get
        {
            Skip.IfNot(Enabled, PostgresContainer.SkipReason);
            return $"127.0.0.1:{_port}";
        }
    }

    public async Task InitializeAsync()
    {
        if (!Enabled)
        {
            return;
        }

        _port = FreePort();
        _container = new RedisBuilder(Environment.GetEnvironmentVariable("CLEANREALTIME_REDIS_IMAGE") ?? "redis:7.0")
            .WithPortBinding(_port, 6379)
            .Build();
        await _container.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    /// <summary>Freezes the server: connections stay open and get no answer.</summary>
    public Task PauseAsync() => _container!.PauseAsync();

    public Task UnpauseAsync() => _container!.UnpauseAsync();

    /// <summary>Stops the server (every connection drops, every subscription and message in flight is gone) and starts it again on the same port.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        await _container!.StopAsync();
        await Task.Delay(down);
        await _container.StartAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
