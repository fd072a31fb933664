using CleanRealtime.Infrastructure.Events;
using Microsoft.EntityFrameworkCore;

namespace CleanRealtime.Infrastructure.Persistence;

public sealed class JobsDbContext(DbContextOptions<JobsDbContext> options) : DbContext(options)
{
    public DbSet<JobRow> Jobs => Set<JobRow>();

    public DbSet<FrameRow> Frames => Set<FrameRow>();

    public DbSet<JobEventRow> JobEvents => Set<JobEventRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(JobsDbContext).Assembly);
}
