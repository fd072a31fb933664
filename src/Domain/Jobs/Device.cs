namespace CleanRealtime.Domain.Jobs;

/// <summary>Where analysis runs. <see cref="Auto"/> is only ever requested, never used.</summary>
public enum Device
{
    Cpu,
    Gpu,
    Auto,
}

public static class DeviceExtensions
{
    public static string ToWire(this Device device) => device switch
    {
        Device.Cpu => "cpu",
        Device.Gpu => "gpu",
        Device.Auto => "auto",
        _ => throw new ArgumentOutOfRangeException(nameof(device), device, null),
    };

    public static bool TryParseWire(string? value, out Device device)
    {
        foreach (var candidate in Enum.GetValues<Device>())
        {
            if (string.Equals(candidate.ToWire(), value, StringComparison.Ordinal))
            {
                device = candidate;
                return true;
            }
        }

        device = default;
        return false;
    }
}
