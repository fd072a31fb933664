using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.UnitTests.TestSupport;
using static CleanRealtime.UnitTests.Api.Realtime.TestPayloads;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>The fan-out routes the same bytes by job, through the store's subscriptions, and forgets ended connections.</summary>
public sealed class LocalFanOutTests
{
    [Fact]
    public async Task Publish_RoutesByJob_FollowersGetTheirJobEveryJobSubscribersGetAll()
    {
        await using var harness = new RealtimeHarness();
        var jobA = Guid.NewGuid();
        var jobB = Guid.NewGuid();
        var followerOfA = harness.Connect(jobId: jobA);
        var everything = harness.Connect();

        harness.Publish(Progress(jobB, 1));
        harness.Publish(Progress(jobA, 2));
        harness.Publish(new PingPayload(30));

        Assert.Equal(["progress:2", "ping"], (await followerOfA.ReceiveAsync(2)).Select(m => m.Key));
        Assert.Equal(["progress:1", "progress:2", "ping"], (await everything.ReceiveAsync(3)).Select(m => m.Key));
    }

    [Fact]
    public async Task Publish_AfterAConnectionEnded_NoLongerReachesIt()
    {
        await using var harness = new RealtimeHarness();
        var job = Guid.NewGuid();
        var gone = new RecordingTransport();
        var stays = new RecordingTransport();
        var goneConnection = harness.Manager.TryAdd(gone, job, null).Connection!;
        harness.Manager.TryAdd(stays, job, null);

        goneConnection.Abort("client gone");
        await goneConnection.Completion.WaitAsync(Eventually.DefaultTimeout);
        var message = harness.Message(Progress(job, 5));
        harness.FanOut.Publish(new PublishedMessage(message, harness.Serializer.ToOutbound(message)));

        Assert.Equal(MessageType.Progress, (await stays.NextAsync()).Type);
        Assert.False(gone.TryTake(out _));
        Assert.False(harness.IsConnected(goneConnection.Id));
    }
}
