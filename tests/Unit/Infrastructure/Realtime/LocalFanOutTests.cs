using CleanRealtime.UnitTests.Api.Realtime;
using CleanRealtime.UnitTests.TestSupport;

namespace CleanRealtime.UnitTests.Infrastructure.Realtime;

public sealed class LocalFanOutTests
{
    [Fact]
    public async Task HasSubscribers_FollowsConnectionsAndTheirJobFilters()
    {
        await using var harness = new RealtimeHarness();
        var jobA = Guid.NewGuid();
        var jobB = Guid.NewGuid();
        Assert.False(harness.FanOut.HasSubscribers(null));
        Assert.False(harness.FanOut.HasSubscribers(jobA));

        var followerOfA = harness.Connect(jobId: jobA);

        Assert.True(harness.FanOut.HasSubscribers(null));
        Assert.True(harness.FanOut.HasSubscribers(jobA));
        Assert.False(harness.FanOut.HasSubscribers(jobB));

        var everything = harness.Connect();
        Assert.True(harness.FanOut.HasSubscribers(jobB));

        everything.Connection.Abort("client gone");
        await Eventually.TrueAsync(() => !harness.FanOut.HasSubscribers(jobB), "the unfiltered connection is gone");
        followerOfA.Connection.Abort("client gone");
        await Eventually.TrueAsync(() => !harness.FanOut.HasSubscribers(jobA), "the follower of job A is gone");
    }
}
