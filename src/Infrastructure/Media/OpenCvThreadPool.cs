using System.Runtime.InteropServices;

namespace CleanRealtime.Infrastructure.Media;

/// <summary>
/// OpenCV's own thread pool (its parallel regions inside HOG, MOG2, filters) lets a worker that has finished its part
/// spin for up to 2,000 rounds of <c>sched_yield</c> waiting for the next region. In the bare loop that costs nothing
/// visible; in a job, the time between two regions also holds publishing, the event log and the decoder, and the
/// spinning workers take turns with them on the cores: `perf` showed ~11 % of a motion_detection job's samples in
/// <c>sched_yield</c> (~2 % in the bare loop), and the plugin's calls ran ~10 % slower in the job. So, unless the
/// operator set it, <c>OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER</c> is 0: an idle worker sleeps at once and is woken for
/// the next region. OpenCV reads the variable once, when its library is loaded: this must run before the first OpenCV call.
/// </summary>
internal static partial class OpenCvThreadPool
{
    public const string ActiveWaitVariable = "OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER";

    /// <summary>Sets the variable in the process's native environment (where OpenCV reads it), unless already set there.</summary>
    public static void DisableWorkerSpinning()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        SetNativeIfUnset(ActiveWaitVariable, "0");
    }

    /// <summary>
    /// Sets <paramref name="name"/> in the native environment unless it is set there already (a value the operator gave
    /// the process wins). The managed Environment API does not reach native <c>getenv</c>.
    /// </summary>
    internal static void SetNativeIfUnset(string name, string value)
    {
        if (SetEnv(name, value, 0) != 0)
        {
            throw new InvalidOperationException($"setenv({name}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
