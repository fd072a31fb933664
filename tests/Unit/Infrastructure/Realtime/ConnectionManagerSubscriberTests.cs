using CleanRealtime.UnitTests.TestSupport;

namespace CleanRealtime.UnitTests.Infrastructure.Realtime;

public sealed class ConnectionManagerSubscriberTests
{
    [Fact]
    public async Task HasSubscribers_FollowsConnectionsAndTheirJobFilters()
    {
        await using var harness = new RealtimeHarness();
        var jobA = Guid.NewGuid();
        var jobB = Guid.NewGuid();
        Assert.False(harness.Manager.HasSubscribers(null));
        Assert.False(harness.Manager.HasSubscribers(jobA));

        var followerOfA = harness.Connect(jobId: jobA);

        Assert.True(harness.Manager.HasSubscribers(null));
        Assert.True(harness.Manager.HasSubscribers(jobA));
        Assert.False(harness.Manager.HasSubscribers(jobB));

        var everything = harness.Connect();
        Assert.True(harness.Manager.HasSubscribers(jobB));

        everything.Connection.Abort("client gone");
        await Eventually.TrueAsync(() => !harness.Manager.HasSubscribers(jobB), "the unfiltered connection is gone");
        followerOfA.Connection.Abort("client gone");
        await Eventually.TrueAsync(() => !harness.Manager.HasSubscribers(jobA), "the follower of job A is gone");
    }
}
