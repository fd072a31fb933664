using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Devices;
using Microsoft.Extensions.Logging;

namespace CleanRealtime.UnitTests.Infrastructure.Devices;

public sealed class DeviceProbeTests
{
    private const string CudaBuild = "General configuration for OpenCV\n  NVIDIA CUDA:                   YES (ver 12.4, CUFFT CUBLAS)\n";
    private const string CpuBuild = "General configuration for OpenCV\n  OpenCL:                        YES (no extra features)\n";

    [Theory]
    [InlineData(Device.Cpu)]
    [InlineData(Device.Auto)]
    public void IsAvailable_CpuOrAuto_IsAlwaysTrue(Device device)
    {
        var probe = new DeviceProbe(new RecordingLogger(), () => CpuBuild, () => 0);

        Assert.True(probe.IsAvailable(device));
    }

    [Fact]
    public void IsAvailable_GpuWithTheBundledOpenCvRuntime_IsFalseBecauseItHasNoCuda()
    {
        var logger = new RecordingLogger();
        var probe = new DeviceProbe(logger);

        Assert.False(probe.IsAvailable(Device.Gpu));
        Assert.True(probe.IsAvailable(Device.Cpu));
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Contains("no CUDA support", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsAvailable_GpuWithCudaBuildAndADevice_IsTrue()
    {
        var probe = new DeviceProbe(new RecordingLogger(), () => CudaBuild, () => 1);

        Assert.True(probe.IsAvailable(Device.Gpu));
    }

    [Fact]
    public void IsAvailable_GpuWithCudaBuildButNoDevice_IsFalse()
    {
        var logger = new RecordingLogger();
        var probe = new DeviceProbe(logger, () => CudaBuild, () => 0);

        Assert.False(probe.IsAvailable(Device.Gpu));
        Assert.Contains("reports no devices", Assert.Single(logger.Entries).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsAvailable_GpuWithoutCudaRuntimeLibrary_IsFalseAndLogsWhy()
    {
        var logger = new RecordingLogger();
        var probe = new DeviceProbe(logger, () => CudaBuild, () => throw new DllNotFoundException("libcudart.so"));

        Assert.False(probe.IsAvailable(Device.Gpu));
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Contains("CUDA runtime could not be loaded", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsAvailable_GpuWhenNativeOpenCvIsMissing_IsFalse()
    {
        var probe = new DeviceProbe(new RecordingLogger(), () => throw new DllNotFoundException("OpenCvSharpExtern"), () => 1);

        Assert.False(probe.IsAvailable(Device.Gpu));
        Assert.True(probe.IsAvailable(Device.Cpu));
    }

    [Fact]
    public void IsAvailable_AskedRepeatedly_ProbesOnlyOnce()
    {
        var probes = 0;
        var logger = new RecordingLogger();
        var probe = new DeviceProbe(logger, () => CudaBuild, () => ++probes);

        for (var i = 0; i < 3; i++)
        {
            Assert.True(probe.IsAvailable(Device.Gpu));
        }

        Assert.Equal(1, probes);
        Assert.Single(logger.Entries);
    }

    [Fact]
    public void IsAvailable_UnexpectedProbeFailure_IsNotSwallowed()
    {
        Assert.Throws<InvalidOperationException>(() =>
            new DeviceProbe(new RecordingLogger(), () => CudaBuild, () => throw new InvalidOperationException("bug")));
    }

    private sealed class RecordingLogger : ILogger<DeviceProbe>
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }
}
