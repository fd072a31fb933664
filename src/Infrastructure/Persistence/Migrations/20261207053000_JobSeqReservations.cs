using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CleanRealtime.Infrastructure.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobSeqReservations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "SeqReservedTo",
                table: "jobs",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "SeqReservedTo",
                table: "jobs");
        }
    }
}
