using CleanRealtime.Domain.Jobs;

namespace CleanRealtime.Application.Devices;

public interface IDeviceProbe
{
    /// <summary>Whether jobs can really run on this device here (cpu always; gpu only with a usable CUDA device).</summary>
    bool IsAvailable(Device device);
}
