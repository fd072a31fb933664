using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using CleanRealtime.Application.Devices;
using CleanRealtime.Domain.Jobs;
using Microsoft.Extensions.Logging;
using Cv2 = OpenCvSharp.Cv2;

namespace CleanRealtime.Infrastructure.Devices;

/// <summary>
/// Answers which devices jobs can run on, probed once at construction. The CPU always works; the GPU only when
/// the native OpenCV build was compiled with CUDA and the CUDA runtime reports at least one device.
/// OpenCvSharp 4 has no CUDA bindings of its own, so the device count comes from <c>libcudart</c> directly.
/// </summary>
public sealed partial class DeviceProbe : IDeviceProbe
{
    private static readonly string[] CudaRuntimeNames = ["libcudart.so", "libcudart.so.12", "libcudart.so.11.0", "cudart64_12", "cudart64_110"];

    private readonly bool _gpuAvailable;

    public DeviceProbe(ILogger<DeviceProbe> logger)
        : this(logger, Cv2.GetBuildInformation, CountCudaDevices)
    {
    }

    internal DeviceProbe(ILogger<DeviceProbe> logger, Func<string> openCvBuildInformation, Func<int> cudaDeviceCount)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(openCvBuildInformation);
        ArgumentNullException.ThrowIfNull(cudaDeviceCount);

        var reason = ProbeGpu(openCvBuildInformation, cudaDeviceCount);
        _gpuAvailable = reason is null;
        if (reason is null)
        {
            LogGpuAvailable(logger);
        }
        else
        {
            LogGpuUnavailable(logger, reason);
        }
    }

    public bool IsAvailable(Device device) => device switch
    {
        Device.Cpu or Device.Auto => true,
        Device.Gpu => _gpuAvailable,
        _ => false,
    };

    /// <summary>Null when a CUDA device is usable, else why not.</summary>
    private static string? ProbeGpu(Func<string> openCvBuildInformation, Func<int> cudaDeviceCount)
    {
        string buildInformation;
        try
        {
            buildInformation = openCvBuildInformation();
        }
        catch (DllNotFoundException ex)
        {
            return $"the native OpenCV library could not be loaded ({ex.Message})";
        }
        catch (TypeInitializationException ex)
        {
            return $"the native OpenCV library could not be initialised ({ex.InnerException?.Message ?? ex.Message})";
        }

        if (!CudaBuildLine().IsMatch(buildInformation))
        {
            return "the OpenCV native build has no CUDA support";
        }

        int count;
        try
        {
            count = cudaDeviceCount();
        }
        catch (DllNotFoundException ex)
        {
            return $"the CUDA runtime could not be loaded ({ex.Message})";
        }
        catch (EntryPointNotFoundException ex)
        {
            return $"the CUDA runtime has no usable device query ({ex.Message})";
        }

        return count > 0 ? null : "the CUDA runtime reports no devices";
    }

    private static int CountCudaDevices()
    {
        foreach (var name in CudaRuntimeNames)
        {
            if (!NativeLibrary.TryLoad(name, out var library))
            {
                continue;
            }

            try
            {
                if (!NativeLibrary.TryGetExport(library, "cudaGetDeviceCount", out var export))
                {
                    throw new EntryPointNotFoundException($"{name} does not export cudaGetDeviceCount");
                }

                var getDeviceCount = Marshal.GetDelegateForFunctionPointer<CudaGetDeviceCount>(export);
                return getDeviceCount(out var count) == 0 ? count : 0;
            }
            finally
            {
                NativeLibrary.Free(library);
            }
        }

        throw new DllNotFoundException("no CUDA runtime library (libcudart) was found");
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CudaGetDeviceCount(out int count);

    [GeneratedRegex(@"NVIDIA CUDA:\s*YES", RegexOptions.IgnoreCase)]
    private static partial Regex CudaBuildLine();

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "GPU device is available (CUDA)")]
    private static partial void LogGpuAvailable(ILogger logger);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "GPU device is unavailable: {Reason}; jobs requesting gpu fall back to cpu")]
    private static partial void LogGpuUnavailable(ILogger logger, string reason);
}
