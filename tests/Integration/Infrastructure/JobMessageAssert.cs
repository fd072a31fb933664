using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>Assertions over the realtime messages of one job (API.md §3.2–3.3).</summary>
public static partial class JobMessageAssert
{
    public static string FrameId(int index) => $"frame-{index:D6}";

    /// <summary>
    /// The order of API.md §3.3 for a job that completed: progress 0 → plugin_status started (each plugin, in order) →
    /// per frame a <c>frame</c> per plugin, a <c>progress</c> whenever the integer percentage changes, warnings as raised →
    /// plugin_status completed (each plugin, with totals) → progress 100 with stage completed, and nothing else.
    /// </summary>
    public static void FollowsJobOrder(IReadOnlyList<ReceivedMessage> messages, Guid jobId, IReadOnlyList<string> plugins, int frames)
    {
        var trace = string.Join("\n", messages.Select(m => m.Raw));
        Assert.All(messages, m => Assert.True(m.IsFor(jobId), $"A message of another job (or none): {m.Raw}"));
        var i = 0;
        ReceivedMessage Next(string type)
        {
            Assert.True(i < messages.Count, $"Expected a {type} message at #{i}, but the sequence ended:\n{trace}");
            var message = messages[i++];
            Assert.True(message.Type == type, $"Expected a {type} message at #{i - 1}, got {message.Raw}\n{trace}");
            return message;
        }

        Assert.Equal(0, Next("progress").Payload.GetProperty("progress").GetInt32());
        foreach (var plugin in plugins)
        {
            var started = Next("plugin_status");
            Assert.Equal(plugin, started.Str("plugin"));
            Assert.Equal("started", started.Str("status"));
        }

        var pairs = new List<string>();
        var warnings = plugins.ToDictionary(p => p, _ => 0);
        var lastProgress = 0;
        while (i < messages.Count && messages[i].Type != "plugin_status")
        {
            var message = messages[i++];
            switch (message.Type)
            {
                case "frame":
                    pairs.Add($"{message.Str("frame_id")}/{message.Str("plugin")}");
                    break;
                case "progress":
                    var progress = message.Payload.GetProperty("progress").GetInt32();
                    Assert.True(pairs.Count % plugins.Count == 0, $"progress in the middle of a frame: {message.Raw}\n{trace}");
                    var done = pairs.Count / plugins.Count;
                    Assert.Equal(Math.Min(99, done * 100 / frames), progress);
                    Assert.True(progress > lastProgress, $"progress did not increase: {message.Raw}\n{trace}");
                    lastProgress = progress;
                    break;
                case "warning":
                    warnings[message.Str("plugin")!]++;
                    break;
                case "partial_result":
                    break;
                default:
                    Assert.Fail($"Unexpected {message.Type} while frames were analysed: {message.Raw}\n{trace}");
                    break;
            }
        }

        var expected = Enumerable.Range(1, frames).SelectMany(k => plugins.Select(p => $"{FrameId(k)}/{p}")).ToList();
        Assert.Equal(expected, pairs);
        Assert.Equal(99, lastProgress);

        foreach (var plugin in plugins)
        {
            var completed = Next("plugin_status");
            Assert.Equal(plugin, completed.Str("plugin"));
            Assert.Equal("completed", completed.Str("status"));
            Assert.True(completed.Payload.GetProperty("timing_ms").GetDouble() >= 0);
            Assert.Equal(frames, completed.Payload.GetProperty("frames_processed").GetInt32());
            Assert.Equal(warnings[plugin], completed.Payload.GetProperty("warnings_count").GetInt32());
        }

        var end = Next("progress");
        Assert.Equal(100, end.Payload.GetProperty("progress").GetInt32());
        Assert.Equal("completed", end.Str("stage"));
        Assert.True(i == messages.Count, $"Messages after the job's end:\n{trace}");
    }

    /// <summary>
    /// The envelope of API.md §3.2: type, payload object, timestamp ISO 8601 UTC with a Z and sub-millisecond digits, and
    /// a <c>seq</c> ≥ 1 exactly when the message is about a job (§3.8).
    /// </summary>
    public static void IsEnvelope(ReceivedMessage message)
    {
        using var json = JsonDocument.Parse(message.Raw);
        var names = json.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(message.JobId is null ? ["payload", "timestamp", "type"] : ["payload", "seq", "timestamp", "type"], names);
        if (message.Seq is { } seq)
        {
            Assert.True(seq >= 1, $"seq must be >= 1: {message.Raw}");
        }

        Assert.Equal(JsonValueKind.Object, message.Payload.ValueKind);
        Assert.Matches(TimestampPattern(), message.Timestamp);
        Assert.True(DateTime.TryParse(message.Timestamp, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed));
        Assert.Equal(DateTimeKind.Utc, parsed.Kind);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{4,}Z$")]
    private static partial Regex TimestampPattern();
}
