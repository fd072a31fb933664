using System.Text;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.ListJobs;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class JobCursorTests
{
    private static readonly Guid Id = Guid.Parse("0192f3a4-5b6c-7d8e-9f01-23456789abcd");

    private static string Base64Url(string text) => System.Buffers.Text.Base64Url.EncodeToString(Encoding.ASCII.GetBytes(text));

    public static TheoryData<DateTimeOffset> Instants => new()
    {
        new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero).AddTicks(1_234_567),
        new DateTimeOffset(2026, 11, 25, 14, 0, 0, TimeSpan.FromHours(2)),
        DateTimeOffset.UnixEpoch,
        DateTimeOffset.MinValue,
        DateTimeOffset.MaxValue,
    };

    [Theory]
    [MemberData(nameof(Instants))]
    public void EncodeThenDecode_GivesBackTheSameInstantAndId(DateTimeOffset createdAt)
    {
        var cursor = JobCursor.Encode(new JobPageCursor(createdAt, Id));

        Assert.True(JobCursor.TryDecode(cursor, out var decoded));

        Assert.NotNull(decoded);
        Assert.Equal(createdAt.UtcTicks, decoded.CreatedAt.UtcTicks);
        Assert.Equal(TimeSpan.Zero, decoded.CreatedAt.Offset);
        Assert.Equal(Id, decoded.Id);
    }

    [Fact]
    public void Encode_IsOpaqueAndUrlSafe()
    {
        var cursor = JobCursor.Encode(new JobPageCursor(DateTimeOffset.MaxValue, Guid.NewGuid()));

        Assert.Matches("^[A-Za-z0-9_-]+$", cursor);
        Assert.True(cursor.Length <= 128);
        Assert.DoesNotContain(Id.ToString(), cursor, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Encode_DifferentPositions_GiveDifferentCursors()
    {
        var at = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

        var cursors = new[]
        {
            JobCursor.Encode(new JobPageCursor(at, Id)), JobCursor.Encode(new JobPageCursor(at.AddTicks(1), Id)),
            JobCursor.Encode(new JobPageCursor(at, Guid.NewGuid())),
        };

        Assert.Equal(3, cursors.Distinct(StringComparer.Ordinal).Count());
    }

    public static TheoryData<string?> Garbage => new()
    {
        null,
        "",
        "not a cursor!",
        "a",
        "====",
        Base64Url("hello"),
        Base64Url("638000000000000000"),
        Base64Url($"638000000000000000:{Id:N}:extra"),
        Base64Url($"638000000000000000:{Id:D}"),
        Base64Url($"638000000000000000:not-a-guid"),
        Base64Url($"-5:{Id:N}"),
        Base64Url($" 638000000000000000:{Id:N}"),
        Base64Url($"6.38e17:{Id:N}"),
        Base64Url($"{DateTimeOffset.MaxValue.UtcTicks + 1}:{Id:N}"),
        Base64Url($"{long.MaxValue}:{Id:N}"),
        Base64Url($"99999999999999999999999:{Id:N}"),
        new string('A', 200),
        JobCursor.Encode(new JobPageCursor(DateTimeOffset.UnixEpoch, Id)) + "!",
    };

    [Theory]
    [MemberData(nameof(Garbage))]
    public void TryDecode_Garbage_IsRejected(string? value)
    {
        Assert.False(JobCursor.TryDecode(value, out var cursor));

        Assert.Null(cursor);
    }
}
