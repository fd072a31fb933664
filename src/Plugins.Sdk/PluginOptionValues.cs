using System.Text.Json;

namespace CleanRealtime.Plugins.Sdk;

/// <summary>
/// A plugin's options for one job: every declared option, with the job's value or the default. Read them with the
/// typed getters; asking for an option the plugin did not declare throws.
/// </summary>
public sealed class PluginOptionValues
{
    private readonly Dictionary<string, object> _values;

    private PluginOptionValues(Dictionary<string, object> values) => _values = values;

    /// <summary>No options (a plugin that declares none).</summary>
    public static PluginOptionValues Empty { get; } = new(new Dictionary<string, object>(StringComparer.Ordinal));

    /// <summary>Every option's resolved value, by name: <see cref="double"/>, <see cref="long"/>, <see cref="bool"/> or <see cref="string"/>.</summary>
    public IReadOnlyDictionary<string, object> Values => _values;

    /// <summary>A number option's value.</summary>
    public double GetNumber(string name) => Get(name) switch
    {
        double d => d,
        long l => l,
        var other => throw WrongType(name, other, "number"),
    };

    /// <summary>An integer option's value.</summary>
    public long GetInteger(string name) => Get(name) is long l ? l : throw WrongType(name, Get(name), "integer");

    /// <summary>A boolean option's value.</summary>
    public bool GetBoolean(string name) => Get(name) is bool b ? b : throw WrongType(name, Get(name), "boolean");

    /// <summary>A string option's value.</summary>
    public string GetString(string name) => Get(name) is string s ? s : throw WrongType(name, Get(name), "string");

    /// <summary>The defaults of <paramref name="declared"/>.</summary>
    public static PluginOptionValues Defaults(IReadOnlyList<PluginOption> declared) =>
        Resolve(declared, null, out _) ?? throw new InvalidOperationException("Declared defaults are checked when each option is built.");

    /// <summary>
    /// Resolves the values a job gives (<paramref name="given"/>, a JSON object or null) against the options a plugin
    /// declares. Returns null when any is unknown, of the wrong type or out of bounds; <paramref name="errors"/> then
    /// says why, keyed by option name.
    /// </summary>
    public static PluginOptionValues? Resolve(
        IReadOnlyList<PluginOption> declared, IReadOnlyDictionary<string, JsonElement>? given, out IReadOnlyDictionary<string, string> errors)
    {
        ArgumentNullException.ThrowIfNull(declared);
        var problems = new Dictionary<string, string>(StringComparer.Ordinal);
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var option in declared)
        {
            values[option.Name] = option.Default;
        }

        foreach (var (name, value) in given ?? new Dictionary<string, JsonElement>())
        {
            var option = declared.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.Ordinal));
            if (option is null)
            {
                problems[name] = declared.Count == 0
                    ? "is not an option of this plugin (it takes none)."
                    : $"is not an option of this plugin (it takes {string.Join(", ", declared.Select(o => o.Name))}).";
                continue;
            }

            var read = option.Read(value, out var error);
            if (read is null)
            {
                problems[name] = error!;
            }
            else
            {
                values[name] = read;
            }
        }

        errors = problems;
        return problems.Count == 0 ? new PluginOptionValues(values) : null;
    }

    private object Get(string name) =>
        _values.TryGetValue(name, out var value)
            ? value
            : throw new KeyNotFoundException($"No option '{name}' is declared by this plugin.");

    private static InvalidOperationException WrongType(string name, object value, string wanted) =>
        new($"Option '{name}' holds a {value.GetType().Name}, not a {wanted}.");
}
