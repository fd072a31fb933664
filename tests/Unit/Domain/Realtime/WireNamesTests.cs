using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.UnitTests.Domain.Realtime;

/// <summary>
/// One source per word list: message types, job statuses, progress stages, error codes. A member added without its
/// wire name does not compile (the switches have no default arm); these tests pin the names and their round trips.
/// </summary>
public sealed class WireNamesTests
{
    [Fact]
    public void MessageType_EveryMember_HasADistinctWireNameThatParsesBack()
    {
        var names = Enum.GetValues<MessageType>().Select(t => t.ToWire()).ToList();

        // The names of API.md §3.2, pinned member by member; a member added later is held to the same form without a
        // list to extend here (MessageKinds lists what a new type touches).
        Assert.Equal(["metadata", "progress", "frame", "partial_result", "plugin_status", "warning", "error", "ping", "pong"],
            new[]
            {
                MessageType.Metadata, MessageType.Progress, MessageType.Frame, MessageType.PartialResult, MessageType.PluginStatus,
                MessageType.Warning, MessageType.Error, MessageType.Ping, MessageType.Pong,
            }.Select(t => t.ToWire()));
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, n => Assert.Matches("^[a-z]+(_[a-z]+)*$", n));
        Assert.All(Enum.GetValues<MessageType>(), t => Assert.True(MessageTypeExtensions.TryParseWire(t.ToWire(), out var parsed) && parsed == t));
        Assert.False(MessageTypeExtensions.TryParseWire("Frame", out _));
        Assert.False(MessageTypeExtensions.TryParseWire(null, out _));
    }

    [Fact]
    public void JobStatus_WireNames_AreEveryStatusInOrderAndParseBack()
    {
        Assert.Equal(["queued", "running", "completed", "failed", "cancelled"], JobStatusExtensions.WireNames);
        Assert.All(Enum.GetValues<JobStatus>(), s => Assert.True(JobStatusExtensions.TryParseWire(s.ToWire(), out var parsed) && parsed == s));
    }

    [Fact]
    public void ProgressStages_AreStartedAnalyzingAndEveryFinishedStatus()
    {
        var finished = Enum.GetValues<JobStatus>().Where(s => s.IsFinished()).Select(s => s.ToWire());

        Assert.Equal(["analyzing", "cancelled", "completed", "failed", "started"], ProgressStages.All.Order(StringComparer.Ordinal));
        Assert.All(finished, s => Assert.Contains(s, ProgressStages.All));
    }
}
