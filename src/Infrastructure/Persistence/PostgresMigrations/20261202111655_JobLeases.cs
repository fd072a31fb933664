using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CleanRealtime.Infrastructure.Persistence.PostgresMigrations
{
    /// <inheritdoc />
    public partial class JobLeases : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "CancelRequested",
                table: "jobs",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<long>(
                name: "LeaseExpiresAtTicks",
                table: "jobs",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "LeaseOwner",
                table: "jobs",
                type: "character varying(80)",
                maxLength: 80,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_jobs_Status_LeaseExpiresAtTicks",
                table: "jobs",
                columns: new[] { "Status", "LeaseExpiresAtTicks" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_jobs_Status_LeaseExpiresAtTicks",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "CancelRequested",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "LeaseExpiresAtTicks",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "LeaseOwner",
                table: "jobs");
        }
    }
}
