using CleanRealtime.Infrastructure.Events;
using Microsoft.EntityFrameworkCore;

namespace CleanRealtime.Infrastructure.Persistence;

/// <summary>The job store on SQLite (the default); its migrations are in <c>Persistence/Migrations</c>.</summary>
public class JobsDbContext : DbContext
{
    public JobsDbContext(DbContextOptions<JobsDbContext> options)
        : base(options)
    {
    }

    /// <summary>For a provider's own context type, which owns that provider's migrations.</summary>
    protected JobsDbContext(DbContextOptions options)
        : base(options)
    {
    }

    public DbSet<JobRow> Jobs => Set<JobRow>();

    public DbSet<FrameRow> Frames => Set<FrameRow>();

    public DbSet<JobEventRow> JobEvents => Set<JobEventRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(JobsDbContext).Assembly);
}

/// <summary>The same model on PostgreSQL (<c>Storage:Provider=postgres</c>); its migrations are in <c>Persistence/PostgresMigrations</c>.</summary>
public sealed class PostgresJobsDbContext(DbContextOptions<PostgresJobsDbContext> options) : JobsDbContext(options);
