using System.Runtime.InteropServices;
using CleanRealtime.Infrastructure.Media;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class OpenCvThreadPoolTests
{
    [Fact]
    public void SetNativeIfUnset_SetsAnUnsetVariableWhereNativeCodeReadsIt_AndKeepsAValueAlreadyThere()
    {
        var name = $"CLEANREALTIME_TEST_{Guid.NewGuid():N}";
        Assert.Null(NativeValue(name));

        OpenCvThreadPool.SetNativeIfUnset(name, "0");
        Assert.Equal("0", NativeValue(name));

        // Already set (as by an operator): left as it is.
        OpenCvThreadPool.SetNativeIfUnset(name, "7");
        Assert.Equal("0", NativeValue(name));
    }

    [Fact]
    public void DisableWorkerSpinning_LeavesOpenCvsWorkerActiveWaitSetForNativeCode()
    {
        // The process may have it already (started with it, or set by an earlier test's AddInfrastructure): it is
        // unset here so that the call has to set it, then put back as it was.
        const string Name = OpenCvThreadPool.ActiveWaitVariable;
        var before = NativeValue(Name);
        try
        {
            Assert.Equal(0, UnsetEnv(Name));
            Assert.Null(NativeValue(Name));

            OpenCvThreadPool.DisableWorkerSpinning();
            Assert.Equal("0", NativeValue(Name));

            // An operator's value is kept.
            Assert.Equal(0, UnsetEnv(Name));
            OpenCvThreadPool.SetNativeIfUnset(Name, "5");
            OpenCvThreadPool.DisableWorkerSpinning();
            Assert.Equal("5", NativeValue(Name));
        }
        finally
        {
            Assert.Equal(0, UnsetEnv(Name));
            if (before is not null)
            {
                OpenCvThreadPool.SetNativeIfUnset(Name, before);
            }
        }
    }

    /// <summary>A variable as native code (OpenCV) sees it: libc's <c>getenv</c>, null when unset.</summary>
    private static string? NativeValue(string name) => Marshal.PtrToStringUTF8(GetEnv(name));

    [DllImport("libc", EntryPoint = "getenv", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern IntPtr GetEnv(string name);

    [DllImport("libc", EntryPoint = "unsetenv", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int UnsetEnv(string name);
}
