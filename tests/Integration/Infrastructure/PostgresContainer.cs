using Npgsql;
using Testcontainers.PostgreSql;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>
/// One PostgreSQL container for the tests of the <see cref="PostgresCollection"/>, each of which takes a database of its
/// own. Started only when <c>scripts/test.sh</c> found Docker (<c>CLEANREALTIME_CONTAINER_TESTS=on</c>); otherwise the
/// tests that need it report themselves skipped with <see cref="SkipReason"/>. The image name comes from the
/// environment (<c>CLEANREALTIME_POSTGRES_IMAGE</c>, the official <c>postgres:15</c> by default).
/// </summary>
public sealed class PostgresContainer : IAsyncLifetime
{
    public const string SkipReason =
        "needs Docker: scripts/test.sh starts it and builds the images (scripts/containers.sh); by hand, source that script first";

    private PostgreSqlContainer? _container;

    public static bool Enabled => Environment.GetEnvironmentVariable("CLEANREALTIME_CONTAINER_TESTS") == "on";

    public async Task InitializeAsync()
    {
        if (!Enabled)
        {
            return;
        }

        _container = new PostgreSqlBuilder(Environment.GetEnvironmentVariable("CLEANREALTIME_POSTGRES_IMAGE") ?? "postgres:15").Build();
        await _container.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    /// <summary>Freezes the database server (its port still accepts connections that then get no answer), as a stalled server.</summary>
    public Task PauseAsync() => _container!.PauseAsync();

    public Task UnpauseAsync() => _container!.UnpauseAsync();

    /// <summary>A new, empty database on the container; its Npgsql connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        Skip.IfNot(Enabled, SkipReason);
        var name = $"test_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(_container!.GetConnectionString()))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        // Every test's nodes pool their connections to a database of its own, and a pool outlives the node that filled it:
        // idle connections are closed after 10 s, so the tests that ran before cannot use up the server's 100 connections
        // ("53300: sorry, too many clients already" failed a backplane test once).
        return new NpgsqlConnectionStringBuilder(_container.GetConnectionString())
        {
            Database = name,
            ConnectionIdleLifetime = 10,
            ConnectionPruningInterval = 2,
        }.ConnectionString;
    }
}

/// <summary>The container tests: one PostgreSQL and one Redis (started once, for the backplane tests) for all of them.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresContainer>, ICollectionFixture<RedisContainer>
{
    public const string Name = "PostgreSQL";
}
