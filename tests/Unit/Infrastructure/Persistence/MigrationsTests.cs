using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.UnitTests.Infrastructure.Persistence;

/// <summary>
/// Each provider's migration chain (<c>Persistence/Migrations</c> for SQLite, <c>Persistence/PostgresMigrations</c>)
/// ends at the model the code builds: a change to an entity or its configuration without a migration fails here, not
/// on a user's database. The check compares the model with the chain's snapshot; it opens no connection, so the
/// PostgreSQL one needs no server.
/// </summary>
public sealed class MigrationsTests
{
    [Theory]
    [InlineData(StorageRegistration.Sqlite, "Data Source=never-opened.db", typeof(JobsDbContext))]
    [InlineData(StorageRegistration.Postgres, "Host=never-contacted.invalid;Database=cleanrealtime;Timeout=1", typeof(PostgresJobsDbContext))]
    public void Model_AsTheServerConfiguresIt_HasNoPendingChanges(string provider, string connectionString, Type expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = provider,
            ["ConnectionStrings:Jobs"] = connectionString,
        }).Build();
        var services = new ServiceCollection();
        services.AddJobStore(configuration);
        using var provided = services.BuildServiceProvider();
        using var context = provided.GetRequiredService<IDbContextFactory<JobsDbContext>>().CreateDbContext();

        Assert.IsType(expected, context);
        Assert.NotEmpty(context.Database.GetMigrations());
        Assert.False(
            context.Database.HasPendingModelChanges(),
            $"The {provider} model has changes no migration records: add one with dotnet ef migrations add <Name> --context {expected.Name}.");
        Assert.Equal(System.Data.ConnectionState.Closed, context.Database.GetDbConnection().State);
    }
}
