using System.Globalization;
using System.Text.Json;

namespace CleanRealtime.Plugins.Sdk;

/// <summary>The type of a per-job option's value.</summary>
public enum PluginOptionType
{
    /// <summary>A JSON number (<see cref="double"/>).</summary>
    Number,

    /// <summary>A JSON number without a fraction (<see cref="long"/>).</summary>
    Integer,

    /// <summary><c>true</c> or <c>false</c>.</summary>
    Boolean,

    /// <summary>A JSON string, optionally one of <see cref="PluginOption.Enum"/>.</summary>
    String,
}

/// <summary>
/// One per-job option a plugin declares (API.md §7.2): its name, type, default, bounds and what it does. Build one with
/// <see cref="Number"/>, <see cref="Integer"/>, <see cref="Boolean"/> or <see cref="String"/>.
/// </summary>
public sealed record PluginOption
{
    private PluginOption(string name, PluginOptionType type, object @default, string description)
    {
        Name = name;
        Type = type;
        Default = @default;
        Description = description;
    }

    /// <summary>The option's key in <c>plugin_options.&lt;plugin&gt;</c>: <c>[a-z][a-z0-9_]{0,63}</c>.</summary>
    public string Name { get; }

    /// <summary>The type its value must have.</summary>
    public PluginOptionType Type { get; }

    /// <summary>The value used when a job omits it: a <see cref="double"/>, <see cref="long"/>, <see cref="bool"/> or <see cref="string"/>.</summary>
    public object Default { get; }

    /// <summary>The smallest value allowed (numbers and integers), inclusive.</summary>
    public double? Minimum { get; private init; }

    /// <summary>The largest value allowed (numbers and integers), inclusive.</summary>
    public double? Maximum { get; private init; }

    /// <summary>The values allowed for a string option (null = any string).</summary>
    public IReadOnlyList<string>? Enum { get; private init; }

    /// <summary>What the option does, for <c>GET /v1/plugins</c>.</summary>
    public string Description { get; }

    /// <summary>A number option (<see cref="double"/>), with inclusive bounds.</summary>
    public static PluginOption Number(string name, double @default, double? minimum, double? maximum, string description) =>
        Checked(new PluginOption(name, PluginOptionType.Number, @default, description) { Minimum = minimum, Maximum = maximum });

    /// <summary>An integer option (<see cref="long"/>), with inclusive bounds.</summary>
    public static PluginOption Integer(string name, long @default, long? minimum, long? maximum, string description) =>
        Checked(new PluginOption(name, PluginOptionType.Integer, @default, description) { Minimum = minimum, Maximum = maximum });

    /// <summary>A boolean option.</summary>
    public static PluginOption Boolean(string name, bool @default, string description) =>
        Checked(new PluginOption(name, PluginOptionType.Boolean, @default, description));

    /// <summary>A string option; <paramref name="allowed"/> lists the values it may take (null = any).</summary>
    public static PluginOption String(string name, string @default, IReadOnlyList<string>? allowed, string description) =>
        Checked(new PluginOption(name, PluginOptionType.String, @default, description) { Enum = allowed is null ? null : [.. allowed] });

    /// <summary>
    /// Reads a JSON value given for this option: the typed value (<see cref="double"/>, <see cref="long"/>,
    /// <see cref="bool"/> or <see cref="string"/>), or null with <paramref name="error"/> saying why it is not acceptable.
    /// </summary>
    public object? Read(JsonElement value, out string? error)
    {
        error = null;
        switch (Type)
        {
            case PluginOptionType.Number when value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number)
                                                && double.IsFinite(number):
                error = BoundsError(number);
                return error is null ? number : null;
            case PluginOptionType.Integer when value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var integer):
                error = BoundsError(integer);
                return error is null ? integer : null;
            case PluginOptionType.Boolean when value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                return value.GetBoolean();
            case PluginOptionType.String when value.ValueKind == JsonValueKind.String:
                var text = value.GetString()!;
                if (Enum is not null && !Enum.Contains(text, StringComparer.Ordinal))
                {
                    error = $"must be one of {string.Join(", ", Enum)}.";
                    return null;
                }

                return text;
            default:
                error = $"must be {Describe(Type)}.";
                return null;
        }
    }

    private string? BoundsError(double value)
    {
        if (Minimum is { } min && value < min || Maximum is { } max && value > max)
        {
            return (Minimum, Maximum) switch
            {
                ({ } lo, { } hi) => $"must be between {Format(lo)} and {Format(hi)}.",
                ({ } lo, null) => $"must be at least {Format(lo)}.",
                _ => $"must be at most {Format(Maximum!.Value)}.",
            };
        }

        return null;
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Describe(PluginOptionType type) => type switch
    {
        PluginOptionType.Number => "a number",
        PluginOptionType.Integer => "an integer",
        PluginOptionType.Boolean => "true or false",
        _ => "a string",
    };

    private static PluginOption Checked(PluginOption option)
    {
        if (!PluginNames.IsValidOptionName(option.Name))
        {
            throw new ArgumentException($"Option name '{option.Name}' must match [a-z][a-z0-9_]{{0,63}}.", nameof(option));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(option.Description);
        if (option.Minimum is { } min && option.Maximum is { } max && min > max)
        {
            throw new ArgumentException($"Option '{option.Name}': minimum {min} is above maximum {max}.", nameof(option));
        }

        var defaultError = option.Read(JsonSerializer.SerializeToElement(option.Default), out var error) is null ? error : null;
        if (defaultError is not null)
        {
            throw new ArgumentException($"Option '{option.Name}': its default {defaultError}", nameof(option));
        }

        return option;
    }
}
