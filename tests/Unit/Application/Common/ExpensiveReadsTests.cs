using CleanRealtime.Application.Common;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CleanRealtime.UnitTests.Application.Common;

public sealed class ExpensiveReadsTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new();
    private readonly ExpensiveReads _reads;

    public ExpensiveReadsTests() =>
        _reads = new ExpensiveReads(
            Options.Create(new ReadsOptions { MaxConcurrent = 2, MaxConcurrentPerClient = 1, MaxWait = TimeSpan.FromSeconds(2), LargeJobFrames = 100 }),
            _clock,
            NullLogger<ExpensiveReads>.Instance);

    public void Dispose() => _reads.Dispose();

    [Fact]
    public async Task EnterAsync_ClientOverItsShare_IsRefusedAtOnceWith429RetryAfterWhileOthersEnter()
    {
        using var held = await _reads.EnterAsync("a", "a picture", CancellationToken.None);

        var refused = await Assert.ThrowsAsync<CapacityExceededException>(() => _reads.EnterAsync("a", "a picture", CancellationToken.None));
        using var other = await _reads.EnterAsync("b", "a picture", CancellationToken.None);

        Assert.Equal(ExpensiveReads.ClientRetryAfter, refused.RetryAfter);
    }

    [Fact]
    public async Task EnterAsync_EveryPlaceTaken_WaitsUpToMaxWaitThenIs503AndFreesTheClientsShare()
    {
        using var a = await _reads.EnterAsync("a", "a picture", CancellationToken.None);
        using var b = await _reads.EnterAsync("b", "a picture", CancellationToken.None);

        var waiting = _reads.EnterAsync("c", "a picture", CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(waiting.IsCompleted);
        _clock.Advance(TimeSpan.FromSeconds(0.1));

        var busy = await Assert.ThrowsAsync<ServerBusyException>(() => waiting);
        Assert.Equal(ExpensiveReads.ServerRetryAfter, busy.RetryAfter);

        // The refused read no longer counts against c: once a place is free, c enters.
        a.Dispose();
        using var c = await _reads.EnterAsync("c", "a picture", CancellationToken.None);
    }

    [Fact]
    public async Task EnterAsync_WaitingWhenAPlaceIsFreed_EntersWithoutError()
    {
        var a = await _reads.EnterAsync("a", "a picture", CancellationToken.None);
        using var b = await _reads.EnterAsync("b", "a picture", CancellationToken.None);
        var waiting = _reads.EnterAsync("c", "a picture", CancellationToken.None);

        a.Dispose();
        a.Dispose(); // twice: the place is freed once

        using var c = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<ServerBusyException>(async () =>
        {
            var d = _reads.EnterAsync("d", "a picture", CancellationToken.None);
            _clock.Advance(TimeSpan.FromSeconds(2));
            using var _ = await d;
        });
    }

    [Theory]
    [InlineData(100, false)]
    [InlineData(101, true)]
    public void IsLargeJob_MoreFramesThanTheThreshold_IsExpensive(int frames, bool expensive) =>
        Assert.Equal(expensive, _reads.IsLargeJob(frames));
}
