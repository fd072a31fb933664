using CleanRealtime.Infrastructure.Media;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class OpenCvThreadPoolTests
{
    [Fact]
    public void SetNativeIfUnset_SetsAnUnsetVariableWhereNativeCodeReadsIt_AndKeepsAValueAlreadyThere()
    {
        var name = $"CLEANREALTIME_TEST_{Guid.NewGuid():N}";
        Assert.Null(OpenCvThreadPool.NativeValue(name));

        OpenCvThreadPool.SetNativeIfUnset(name, "0");
        Assert.Equal("0", OpenCvThreadPool.NativeValue(name));

        // Already set (as by an operator): left as it is.
        OpenCvThreadPool.SetNativeIfUnset(name, "7");
        Assert.Equal("0", OpenCvThreadPool.NativeValue(name));
    }

    [Fact]
    public void DisableWorkerSpinning_LeavesOpenCvsWorkerActiveWaitSetForNativeCode()
    {
        var before = OpenCvThreadPool.NativeValue(OpenCvThreadPool.ActiveWaitVariable);

        OpenCvThreadPool.DisableWorkerSpinning();

        // "0" unless the test process was started with a value of its own, which is kept.
        Assert.Equal(before ?? "0", OpenCvThreadPool.NativeValue(OpenCvThreadPool.ActiveWaitVariable));
    }
}
