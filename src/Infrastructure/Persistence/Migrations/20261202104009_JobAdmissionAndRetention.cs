using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CleanRealtime.Infrastructure.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobAdmissionAndRetention : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "CompletedAtTicks",
                table: "jobs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SubmittedBy",
                table: "jobs",
                type: "TEXT",
                maxLength: 80,
                nullable: true);

            // Jobs finished before this migration get their end time in ticks too (julianday 1721425.5 = 0001-01-01),
            // so retention reaches them.
            migrationBuilder.Sql(
                "UPDATE jobs SET CompletedAtTicks = CAST((julianday(CompletedAt) - 1721425.5) * 864000000000 AS INTEGER) WHERE CompletedAt IS NOT NULL;");

            migrationBuilder.CreateIndex(
                name: "IX_jobs_CompletedAtTicks",
                table: "jobs",
                column: "CompletedAtTicks");

            migrationBuilder.CreateIndex(
                name: "IX_jobs_Status_SubmittedBy",
                table: "jobs",
                columns: new[] { "Status", "SubmittedBy" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_jobs_CompletedAtTicks",
                table: "jobs");

            migrationBuilder.DropIndex(
                name: "IX_jobs_Status_SubmittedBy",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "CompletedAtTicks",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "SubmittedBy",
                table: "jobs");
        }
    }
}
