using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace CleanRealtime.Infrastructure.Persistence.Configurations;

internal sealed class JobRowConfiguration : IEntityTypeConfiguration<JobRow>
{
    public void Configure(EntityTypeBuilder<JobRow> builder)
    {
        builder.ToTable("jobs");
        builder.HasKey(j => j.Id);
        builder.Property(j => j.Id).HasMaxLength(36);
        builder.Property(j => j.Source).IsRequired();
        builder.Property(j => j.DeviceRequested).HasMaxLength(8);
        builder.Property(j => j.DeviceUsed).HasMaxLength(8);
        builder.Property(j => j.Status).HasMaxLength(16);
        builder.HasIndex(j => new { j.CreatedAtTicks, j.Id });
        builder.HasIndex(j => new { j.Status, j.CreatedAtTicks });
        builder.Property(j => j.SubmittedBy).HasMaxLength(80);
        builder.HasIndex(j => new { j.Status, j.SubmittedBy });
        builder.HasIndex(j => j.CompletedAtTicks);
        builder.Property(j => j.LeaseOwner).HasMaxLength(80);
        builder.HasIndex(j => new { j.Status, j.LeaseExpiresAtTicks });
    }
}
