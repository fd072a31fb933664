using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>Lets <c>dotnet ef migrations add</c> build the SQLite context without starting the server.</summary>
internal sealed class DesignTimeJobsDbContextFactory : IDesignTimeDbContextFactory<JobsDbContext>
{
    public JobsDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<JobsDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

/// <summary>
/// Lets <c>dotnet ef migrations add … --context PostgresJobsDbContext -o Persistence/PostgresMigrations</c> build the
/// PostgreSQL context; adding a migration never connects.
/// </summary>
internal sealed class DesignTimePostgresJobsDbContextFactory : IDesignTimeDbContextFactory<PostgresJobsDbContext>
{
    public PostgresJobsDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresJobsDbContext>().UseNpgsql("Host=localhost;Database=cleanrealtime").Options);
}
