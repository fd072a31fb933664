using CleanRealtime.Infrastructure.Media;

namespace CleanRealtime.UnitTests.Infrastructure.Media;

public sealed class OpenCvThreadPoolTests
{
    [Fact]
    public void DisableWorkerSpinning_SetsTheVariableWhereNativeCodeReadsIt_AndKeepsAnyValueAlreadyThere()
    {
        var before = OpenCvThreadPool.NativeValue();

        OpenCvThreadPool.DisableWorkerSpinning();

        // Unset before (the usual case): now "0" for OpenCV's getenv. Set by the operator (or an earlier call): unchanged.
        Assert.Equal(before ?? "0", OpenCvThreadPool.NativeValue());
        OpenCvThreadPool.DisableWorkerSpinning();
        Assert.Equal(before ?? "0", OpenCvThreadPool.NativeValue());
    }
}
