using System.Globalization;
using System.Text.Json;
using CleanRealtime.Application.Common;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.Application.Jobs.Ending;

/// <summary>
/// The frames of a lost job that only its event log holds. Frames are stored by the checkpointer about once a second,
/// while every <c>frame</c> message is in the log: a job whose runner died has frames analysed after its last
/// checkpoint that exist only as messages. They are added back to the job before its end is stored, so its
/// <c>/frames</c> and its log agree. A <c>frame</c> message has the plugin, its data and its timing, not the frame's
/// <c>timestamp_ms</c>: that is carried on from the stored frames' rate (<see cref="TimestampOf"/>).
/// </summary>
internal sealed partial class LoggedFrames(IJobRepository repository, IJobEventLog log, ILogger<LoggedFrames> logger)
{
    /// <summary>Messages read from the log at a time.</summary>
    internal const int PageSize = 1_000;

    /// <summary>The frame interval assumed when no stored frame tells it: 30 fps, what both frame sources assume without a rate.</summary>
    internal const double FallbackFrameMs = 1000.0 / 30;

    private const string FrameIdPrefix = "frame-";

    /// <summary>
    /// The job of <paramref name="state"/> (its state, without frames) with its last stored frames and, after them, every
    /// frame its log holds beyond them; <see cref="IJobRepository.SaveAsync"/> of it stores the frames it did not have
    /// (the last stored one written again, with any plugin it lacked).
    /// </summary>
    public async Task<Job> RestoreAsync(JobMemento state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        var total = (await repository.ReadFramesAsync(state.Id, 0, 0, cancellationToken).ConfigureAwait(false))?.Total ?? 0;
        IReadOnlyList<FrameResult> tail = total == 0
            ? []
            : (await repository.ReadFramesAsync(state.Id, Math.Max(0, total - 2), 2, cancellationToken).ConfigureAwait(false))?.Items ?? [];
        var lastStored = tail.Count == 0 ? 0 : tail[^1].Index;

        // The whole log is read page by page, but only its results from the last stored frame on are kept.
        var results = new List<LoggedResult>();
        var unreadable = 0;
        for (var after = 0L; ;)
        {
            var page = await log.ReadAsync(state.Id, after, PageSize, cancellationToken).ConfigureAwait(false);
            unreadable += Collect(page, lastStored, results);
            if (page.Count < PageSize)
            {
                break;
            }

            after = page[^1].Seq;
        }

        var (job, added, skipped) = Rebuild(state, tail, results);
        skipped += unreadable;
        if (added > 0)
        {
            LogRestored(state.Id, added, lastStored);
        }

        if (skipped > 0)
        {
            LogSkipped(state.Id, skipped);
        }

        return job;
    }

    /// <summary>
    /// The job of <paramref name="state"/> restored with <paramref name="storedTail"/> (its last stored frames, in order),
    /// then every plugin result of <paramref name="logged"/> (its <c>frame</c> messages, in <c>seq</c> order) that the
    /// stored frames lack, grouped by frame id, in frame order; a frame whose plugins are only partly in the log gets those
    /// the log has. <c>Added</c>: results added; <c>Skipped</c>: messages that cannot be a result of this job (unreadable,
    /// an unknown plugin, a second result of one plugin for one frame).
    /// </summary>
    internal static (Job Job, int Added, int Skipped) Rebuild(JobMemento state, IReadOnlyList<FrameResult> storedTail, IEnumerable<JobEvent> logged)
    {
        ArgumentNullException.ThrowIfNull(logged);
        var results = new List<LoggedResult>();
        var unreadable = Collect(logged, 0, results);
        var rebuilt = Rebuild(state, storedTail, results);
        return rebuilt with { Skipped = rebuilt.Skipped + unreadable };
    }

    private static (Job Job, int Added, int Skipped) Rebuild(JobMemento state, IReadOnlyList<FrameResult> storedTail, List<LoggedResult> logged)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(storedTail);
        var job = Job.Restore(state with { Frames = storedTail });
        var last = storedTail.Count == 0 ? null : storedTail[^1];
        var frameMs = FrameInterval(storedTail);
        var plugins = new HashSet<string>(job.Plugins, StringComparer.Ordinal);
        int added = 0, skipped = 0;
        var byFrame = new SortedDictionary<int, List<LoggedResult>>();
        foreach (var result in logged)
        {
            if (!plugins.Contains(result.Plugin))
            {
                skipped++;
                continue;
            }

            if (last is not null && result.Index < last.Index)
            {
                continue;
            }

            if (!byFrame.TryGetValue(result.Index, out var results))
            {
                byFrame[result.Index] = results = [];
            }

            results.Add(result);
        }

        foreach (var (index, results) in byFrame)
        {
            var timestampMs = index == last?.Index ? last.TimestampMs : TimestampOf(index, last, frameMs);
            var stored = index == last?.Index ? last.Results : null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var result in results)
            {
                if (stored?.ContainsKey(result.Plugin) == true)
                {
                    continue;
                }

                if (!seen.Add(result.Plugin))
                {
                    skipped++;
                    continue;
                }

                job.RecordFrameResult(FrameResult.IdFor(index), index, timestampMs, result.Plugin, result.Data, result.TimingMs);
                added++;
            }
        }

        return (job, added, skipped);
    }

    /// <summary>
    /// The <c>timestamp_ms</c> of frame <paramref name="index"/>, which only the log knows of: carried on from the last
    /// stored frame at the stored frames' interval (frame n is stamped n intervals in, as both frame sources stamp
    /// frames), rounded to 0.1 ms; at 30 fps from 0 when no frame was stored.
    /// </summary>
    internal static double TimestampOf(int index, FrameResult? lastStored, double frameMs) =>
        Math.Round(lastStored is null ? index * frameMs : lastStored.TimestampMs + (index - lastStored.Index) * frameMs, 1);

    /// <summary>The interval between the two last stored frames per index step, else the last one's timestamp per index, else 30 fps.</summary>
    internal static double FrameInterval(IReadOnlyList<FrameResult> storedTail)
    {
        ArgumentNullException.ThrowIfNull(storedTail);
        if (storedTail.Count >= 2)
        {
            var (before, last) = (storedTail[^2], storedTail[^1]);
            var step = (last.TimestampMs - before.TimestampMs) / (last.Index - before.Index);
            if (last.Index > before.Index && double.IsFinite(step) && step > 0)
            {
                return step;
            }
        }

        if (storedTail.Count >= 1 && storedTail[^1] is { Index: > 0 } only && only.TimestampMs / only.Index is var perIndex
            && double.IsFinite(perIndex) && perIndex > 0)
        {
            return perIndex;
        }

        return FallbackFrameMs;
    }

    /// <summary>
    /// Adds to <paramref name="into"/> the result of every <c>frame</c> message of <paramref name="messages"/> for frame
    /// <paramref name="fromIndex"/> or later; returns how many frame messages could not be read as a result.
    /// </summary>
    private static int Collect(IEnumerable<JobEvent> messages, int fromIndex, List<LoggedResult> into)
    {
        var unreadable = 0;
        foreach (var message in messages.Where(e => e.Type == MessageType.Frame))
        {
            if (Read(message) is not { } result)
            {
                unreadable++;
            }
            else if (result.Index >= fromIndex)
            {
                into.Add(result);
            }
        }

        return unreadable;
    }

    private static LoggedResult? Read(JobEvent message)
    {
        try
        {
            using var document = JsonDocument.Parse(message.Json);
            if (!document.RootElement.TryGetProperty("payload", out var payload)
                || !payload.TryGetProperty("frame_id", out var frameId) || frameId.ValueKind != JsonValueKind.String
                || ParseIndex(frameId.GetString()!) is not { } index
                || !payload.TryGetProperty("plugin", out var plugin) || plugin.ValueKind != JsonValueKind.String
                || !payload.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object
                || !payload.TryGetProperty("timing_ms", out var timing) || !timing.TryGetDouble(out var timingMs)
                || !double.IsFinite(timingMs) || timingMs < 0)
            {
                return null;
            }

            return new LoggedResult(index, plugin.GetString()!, data.Clone(), timingMs);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The index of a frame id as <see cref="FrameResult.IdFor"/> writes it (<c>frame-000042</c> → 42).</summary>
    private static int? ParseIndex(string frameId) =>
        frameId.StartsWith(FrameIdPrefix, StringComparison.Ordinal)
        && int.TryParse(frameId.AsSpan(FrameIdPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
        && index > 0 && FrameResult.IdFor(index) == frameId
            ? index
            : null;

    private sealed record LoggedResult(int Index, string Plugin, JsonElement Data, double TimingMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: {Count} plugin results after stored frame {LastStored} were only in its event log; added to its frames")]
    private partial void LogRestored(Guid jobId, int count, int lastStored);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: {Count} frame messages of its event log are not results of the job; left out of its frames")]
    private partial void LogSkipped(Guid jobId, int count);
}
