using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.ListJobs;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Domain.Jobs;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class ListJobsValidatorTests
{
    private readonly ListJobsValidator _validator = new();

    private static string ValidCursor => JobCursor.Encode(new JobPageCursor(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero), Guid.NewGuid()));

    [Fact]
    public void Validate_NoParameters_Passes() => Assert.True(_validator.Validate(new ListJobs(null, null, null)).IsValid);

    [Theory]
    [InlineData("queued")]
    [InlineData("running")]
    [InlineData("completed")]
    [InlineData("failed")]
    [InlineData("cancelled")]
    public void Validate_EveryStatus_Passes(string status) => Assert.True(_validator.Validate(new ListJobs(status, null, null)).IsValid);

    [Theory]
    [InlineData("done")]
    [InlineData("Running")]
    [InlineData("")]
    [InlineData("canceled")]
    public void Validate_UnknownStatus_FailsKeyedStatus(string status)
    {
        var result = _validator.Validate(new ListJobs(status, null, null));

        Assert.Equal("status", Assert.Single(result.Errors).PropertyName);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(20)]
    [InlineData(100)]
    public void Validate_LimitInRange_Passes(int limit) => Assert.True(_validator.Validate(new ListJobs(null, limit, null)).IsValid);

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(101)]
    [InlineData(int.MaxValue)]
    public void Validate_LimitOutOfRange_FailsKeyedLimit(int limit)
    {
        var failure = Assert.Single(_validator.Validate(new ListJobs(null, limit, null)).Errors);

        Assert.Equal("limit", failure.PropertyName);
        Assert.Contains("between 1 and 100", failure.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_CursorThisApiReturned_Passes() => Assert.True(_validator.Validate(new ListJobs(null, null, ValidCursor)).IsValid);

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("MTIzOmFiYw")] // base64url of "123:abc"
    public void Validate_ForeignCursor_FailsKeyedCursor(string cursor) =>
        Assert.Equal("cursor", Assert.Single(_validator.Validate(new ListJobs(null, null, cursor)).Errors).PropertyName);

    [Fact]
    public void Validate_EverythingWrong_ReportsEachField()
    {
        var result = _validator.Validate(new ListJobs("nope", 0, "nope"));

        Assert.Equal(["cursor", "limit", "status"], result.Errors.Select(e => e.PropertyName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Handle_MoreRowsThanTheLimit_ReturnsACursorAtTheLastItemThatContinuesThePage()
    {
        var rows = Enumerable.Range(0, 4)
            .Select(i => Job.Queue(Guid.NewGuid(), "clip.mp4", Device.Cpu, Device.Cpu, ["motion_detection"], new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero).AddMinutes(-i)).ToMemento())
            .ToList();
        var repository = Substitute.For<IJobRepository>();
        repository.ListAsync(JobStatus.Queued, 4, null, Arg.Any<CancellationToken>()).Returns(rows);
        var handler = new ListJobsHandler(repository, new LiveJobs());

        var page = await handler.Handle(new ListJobs("queued", 3, null), CancellationToken.None);

        Assert.Equal(rows.Take(3).Select(r => r.Id), page.Items.Select(r => r.Id));
        Assert.True(JobCursor.TryDecode(page.NextCursor, out var next));
        Assert.Equal(new JobPageCursor(rows[2].CreatedAt, rows[2].Id), next);

        // The cursor goes back to the repository as the position to continue after.
        repository.ListAsync(JobStatus.Queued, 4, next, Arg.Any<CancellationToken>()).Returns([rows[3]]);
        var second = await handler.Handle(new ListJobs("queued", 3, page.NextCursor), CancellationToken.None);
        Assert.Equal([rows[3].Id], second.Items.Select(r => r.Id));
        Assert.Null(second.NextCursor);
    }
}
