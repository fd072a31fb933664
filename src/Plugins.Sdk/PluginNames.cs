using System.Text.RegularExpressions;

namespace CleanRealtime.Plugins.Sdk;

/// <summary>The naming rules for plugins and their options (API.md §7.1, §7.2).</summary>
public static partial class PluginNames
{
    /// <summary>Whether <paramref name="name"/> is a valid plugin name: <c>[a-z][a-z0-9_]{1,63}</c>.</summary>
    public static bool IsValidPluginName(string? name) => name is not null && PluginName().IsMatch(name);

    /// <summary>Whether <paramref name="name"/> is a valid option name: <c>[a-z][a-z0-9_]{0,63}</c>.</summary>
    public static bool IsValidOptionName(string? name) => name is not null && OptionName().IsMatch(name);

    [GeneratedRegex("^[a-z][a-z0-9_]{1,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex PluginName();

    [GeneratedRegex("^[a-z][a-z0-9_]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex OptionName();
}
