using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Realtime;

namespace CleanRealtime.UnitTests.Infrastructure.Realtime;

/// <summary>The arguments the backplane's publish script gets (the script itself runs against Redis in ClusterFaultTests).</summary>
public sealed class BackplaneScriptsTests
{
    [Fact]
    public void PublishArguments_BatchOfTwoJobs_RaisesEachJobsKeyToItsHighestSeqThenCarriesTheMessagesInOrderWithTheirJobs()
    {
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        BackplaneMessage[] batch =
        [
            new("n", first, 7, MessageType.Frame, false, "{}"u8.ToArray()),
            new("n", second, 3, MessageType.Frame, false, "{}"u8.ToArray()),
            new("n", first, 8, MessageType.Progress, true, "{}"u8.ToArray()),
        ];

        var (keys, values) = BackplaneScripts.PublishArguments(batch);

        Assert.Equal([BackplaneScripts.LastSeqKey(first), BackplaneScripts.LastSeqKey(second), BackplaneScripts.ClosedKey(first), BackplaneScripts.ClosedKey(second)], keys);
        Assert.Equal("cleanrealtime:job-messages", (string?)values[0]);
        Assert.Equal((long)BackplaneScripts.LastSeqKeyLifetime.TotalMilliseconds, (long)values[1]);
        Assert.Equal([8L, 3L], values[2..4].Select(v => (long)v));
        Assert.Equal([1L, 2L, 1L], values[4..].Where((_, i) => i % 2 == 0).Select(v => (long)v));
        Assert.Equal(batch.Select(m => m.Seq), values[4..].Where((_, i) => i % 2 == 1).Select(v => BackplaneWireFormat.TryDecode(v, out var m) ? m.Seq : -1));
    }
}
