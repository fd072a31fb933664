using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CleanRealtime.Infrastructure.Persistence.PostgresMigrations
{
    /// <inheritdoc />
    public partial class JobEventLog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "job_events",
                columns: table => new
                {
                    JobId = table.Column<string>(type: "character varying(36)", nullable: false),
                    Seq = table.Column<long>(type: "bigint", nullable: false),
                    Type = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    Json = table.Column<byte[]>(type: "bytea", nullable: false),
                    CreatedAtTicks = table.Column<long>(type: "bigint", nullable: false),
                    EndsJob = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_job_events", x => new { x.JobId, x.Seq });
                    table.ForeignKey(
                        name: "FK_job_events_jobs_JobId",
                        column: x => x.JobId,
                        principalTable: "jobs",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_job_events_EndsJob_CreatedAtTicks",
                table: "job_events",
                columns: new[] { "EndsJob", "CreatedAtTicks" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "job_events");
        }
    }
}
