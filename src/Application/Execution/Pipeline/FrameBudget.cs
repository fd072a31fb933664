
using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Execution.Pipeline;

/// <summary>What a job may take (<see cref="JobsOptions"/>): frames, pixels per frame, time; each limit's reason as the job's error reads it.</summary>
internal static class FrameBudget
{
    /// <summary>Why the next frame may not be analysed under the job's budget, or null when it may.</summary>
    public static string? OverBudget(VideoFrame frame, int processed, JobsOptions budget, bool pastDeadline)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(budget);
        if (pastDeadline)
        {
            return OverDuration(budget);
        }

        if (processed >= budget.MaxFrames)
        {
            return $"the source has more than {budget.MaxFrames} frames (Jobs:MaxFrames)";
        }

        var pixels = (long)frame.Image.Width * frame.Image.Height;
        return pixels > budget.MaxPixelsPerFrame
            ? $"frame {frame.Index} is {frame.Image.Width}x{frame.Image.Height} ({pixels} pixels); Jobs:MaxPixelsPerFrame allows {budget.MaxPixelsPerFrame}"
            : null;
    }

    public static string OverDuration(JobsOptions budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        return $"the job ran longer than Jobs:MaxDuration ({budget.MaxDuration:c})";
    }
}
