using CleanRealtime.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace CleanRealtime.Infrastructure.Events;

internal sealed class JobEventRowConfiguration : IEntityTypeConfiguration<JobEventRow>
{
    public void Configure(EntityTypeBuilder<JobEventRow> builder)
    {
        builder.ToTable("job_events");
        builder.HasKey(e => new { e.JobId, e.Seq });
        builder.Property(e => e.Type).HasMaxLength(32);

        // Retention finds ended jobs by their last message's time.
        builder.HasIndex(e => new { e.EndsJob, e.CreatedAtTicks });
        builder.HasOne<JobRow>().WithMany().HasForeignKey(e => e.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
