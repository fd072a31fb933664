namespace CleanRealtime.Plugins.Sdk;

/// <summary>The version of this SDK, which a plugin's manifest names in <c>sdk_version</c>.</summary>
public static class SdkVersion
{
    /// <summary>This SDK's version (the package version, SemVer).</summary>
    public static Version Current { get; } =
        typeof(SdkVersion).Assembly.GetName().Version is { } v ? new Version(v.Major, v.Minor, v.Build) : new Version(1, 0, 0);

    /// <summary>
    /// Whether a plugin built against <paramref name="pluginSdk"/> loads in this server: same major, not newer.
    /// </summary>
    public static bool Accepts(Version pluginSdk)
    {
        ArgumentNullException.ThrowIfNull(pluginSdk);
        var normalized = new Version(pluginSdk.Major, pluginSdk.Minor, Math.Max(0, pluginSdk.Build));
        return normalized.Major == Current.Major && normalized <= Current;
    }
}
