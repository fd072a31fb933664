using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CleanRealtime.Infrastructure.Persistence.PostgresMigrations
{
    /// <inheritdoc />
    public partial class InitialCreate : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "jobs",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: false),
                    Source = table.Column<string>(type: "text", nullable: false),
                    DeviceRequested = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    DeviceUsed = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    PluginsJson = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Progress = table.Column<int>(type: "integer", nullable: true),
                    Error = table.Column<string>(type: "text", nullable: true),
                    CreatedAtTicks = table.Column<long>(type: "bigint", nullable: false),
                    StartedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CompletedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CompletedAtTicks = table.Column<long>(type: "bigint", nullable: true),
                    SubmittedBy = table.Column<string>(type: "character varying(80)", maxLength: 80, nullable: true),
                    PluginTimingsJson = table.Column<string>(type: "text", nullable: false),
                    WarningsJson = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_jobs", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "job_frames",
                columns: table => new
                {
                    JobId = table.Column<string>(type: "character varying(36)", nullable: false),
                    Index = table.Column<int>(type: "integer", nullable: false),
                    FrameId = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    TimestampMs = table.Column<double>(type: "double precision", nullable: false),
                    ResultsJson = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_job_frames", x => new { x.JobId, x.Index });
                    table.ForeignKey(
                        name: "FK_job_frames_jobs_JobId",
                        column: x => x.JobId,
                        principalTable: "jobs",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_jobs_CompletedAtTicks",
                table: "jobs",
                column: "CompletedAtTicks");

            migrationBuilder.CreateIndex(
                name: "IX_jobs_CreatedAtTicks_Id",
                table: "jobs",
                columns: new[] { "CreatedAtTicks", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_jobs_Status_CreatedAtTicks",
                table: "jobs",
                columns: new[] { "Status", "CreatedAtTicks" });

            migrationBuilder.CreateIndex(
                name: "IX_jobs_Status_SubmittedBy",
                table: "jobs",
                columns: new[] { "Status", "SubmittedBy" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "job_frames");

            migrationBuilder.DropTable(
                name: "jobs");
        }
    }
}
