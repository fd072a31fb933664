using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace CleanRealtime.Infrastructure.Persistence.Configurations;

internal sealed class FrameRowConfiguration : IEntityTypeConfiguration<FrameRow>
{
    public void Configure(EntityTypeBuilder<FrameRow> builder)
    {
        builder.ToTable("job_frames");
        builder.HasKey(f => new { f.JobId, f.Index });
        builder.Property(f => f.FrameId).HasMaxLength(32);
        builder.HasOne<JobRow>().WithMany().HasForeignKey(f => f.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
