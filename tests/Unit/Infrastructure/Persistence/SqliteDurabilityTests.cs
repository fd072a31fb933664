using CleanRealtime.Infrastructure.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.UnitTests.Infrastructure.Persistence;

/// <summary>Every connection to the SQLite store commits with synchronous = NORMAL (1), not SQLite's default FULL (2).</summary>
public sealed class SqliteDurabilityTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"durability-{Guid.NewGuid():N}.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        File.Delete(_file);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StoreConnections_OpenedSyncOrAsync_CommitWithSynchronousNormal(bool openAsync)
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Jobs"] = $"Data Source={_file}" })
            .Build();
        services.AddJobStore(configuration);
        await using var provider = services.BuildServiceProvider();
        await using var db = await provider.GetRequiredService<IDbContextFactory<JobsDbContext>>().CreateDbContextAsync();

        if (openAsync)
        {
            await db.Database.OpenConnectionAsync();
        }
        else
        {
            db.Database.OpenConnection();
        }

        Assert.Equal(1L, Synchronous((SqliteConnection)db.Database.GetDbConnection()));
    }

    [Fact]
    public void Apply_OnAPlainConnection_SetsNormal()
    {
        using var connection = new SqliteConnection($"Data Source={_file}");
        connection.Open();
        Assert.Equal(2L, Synchronous(connection));

        SqliteDurability.Apply(connection);

        Assert.Equal(1L, Synchronous(connection));
    }

    private static long Synchronous(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous;";
        return (long)command.ExecuteScalar()!;
    }
}
