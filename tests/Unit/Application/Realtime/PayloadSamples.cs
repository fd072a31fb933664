using System.Collections;
using System.Reflection;
using System.Text.Json;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.UnitTests.Application.Realtime;

/// <summary>
/// Payloads built by reflection from their record's constructor: every property set, so a property added to a payload is
/// in every sample (and every variant) without anyone extending a list. A property of a type this class cannot make
/// fails the tests that use it until it learns the type.
/// </summary>
internal static class PayloadSamples
{
    public static readonly Guid JobId = Guid.Parse("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b");

    // Values whose schema is a word list rather than their type (API.md §3.2): the valid value to use.
    private static readonly Dictionary<string, object> ValidByName = new(StringComparer.Ordinal)
    {
        ["stage"] = ProgressStages.Analyzing,
        ["error_code"] = ErrorCodes.PluginCrash,
        ["confidence_default"] = 0.5,
    };

    /// <summary>Every concrete <see cref="RealtimePayload"/> record of the Domain assembly.</summary>
    public static IReadOnlyList<Type> PayloadTypes() =>
        [.. typeof(RealtimePayload).Assembly.GetTypes().Where(t => t is { IsAbstract: false } && t.IsSubclassOf(typeof(RealtimePayload)))];

    /// <summary>The record's constructor parameters: its properties, in declaration order (the order of the contract).</summary>
    public static ParameterInfo[] Properties(Type record) => Constructor(record).GetParameters();

    public static string WireName(ParameterInfo property) => JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name!);

    /// <summary>A record with every property set to a valid, non-null value; strings are <paramref name="text"/>.</summary>
    public static object Full(Type record, string text = "x") =>
        Constructor(record).Invoke([.. Properties(record).Select(p => Valid(p, text))]);

    /// <summary>
    /// The full record, then one variant per property and value the property can take at the edge of its schema
    /// (valid and invalid): the other properties stay valid. Nested records vary the same way, one level down.
    /// </summary>
    public static IEnumerable<(string Property, object Payload)> Variants(Type record)
    {
        yield return ("(all valid)", Full(record));
        var properties = Properties(record);
        for (var i = 0; i < properties.Length; i++)
        {
            foreach (var (label, value) in Candidates(properties[i]))
            {
                var arguments = properties.Select(p => (object?)Valid(p, "x")).ToArray();
                arguments[i] = value;
                yield return ($"{WireName(properties[i])} = {label}", Constructor(record).Invoke(arguments));
            }
        }
    }

    /// <summary>The full record, then one variant per optional property left out (null), each alone.</summary>
    public static IEnumerable<(string Property, object Payload)> WithEachOptionalNull(Type record, string text)
    {
        yield return ("(all set)", Full(record, text));
        var properties = Properties(record);
        for (var i = 0; i < properties.Length; i++)
        {
            if (IsNullable(properties[i]))
            {
                var arguments = properties.Select(p => (object?)Valid(p, text)).ToArray();
                arguments[i] = null;
                yield return ($"{WireName(properties[i])} = null", Constructor(record).Invoke(arguments));
            }
        }
    }

    // A positional record has one public constructor (its copy constructor is protected).
    private static ConstructorInfo Constructor(Type record) => record.GetConstructors().Single();

    private static bool IsNullable(ParameterInfo property) =>
        Nullable.GetUnderlyingType(property.ParameterType) is not null
        || (!property.ParameterType.IsValueType && new NullabilityInfoContext().Create(property).WriteState == NullabilityState.Nullable);

    private static object Valid(ParameterInfo property, string text) =>
        ValidByName.TryGetValue(WireName(property), out var value) ? value : Valid(property.ParameterType, property.Name!, text);

    private static object Valid(Type type, string name, string text)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return text;
        }

        if (type == typeof(Guid))
        {
            return JobId;
        }

        if (type == typeof(int))
        {
            return 1;
        }

        if (type == typeof(double))
        {
            return 1.5;
        }

        if (type == typeof(bool))
        {
            return true;
        }

        if (type == typeof(JsonElement))
        {
            return Json("""{"k":[1,"é <b>",null]}""");
        }

        if (type.IsEnum)
        {
            return Enum.GetValues(type).Cast<object>().Last();
        }

        if (ListItemType(type) is { } item)
        {
            var list = Array.CreateInstance(item, 1);
            list.SetValue(Valid(item, name, text), 0);
            return list;
        }

        if (type.Namespace == typeof(RealtimePayload).Namespace && type.IsClass)
        {
            return Full(type, text);
        }

        throw new NotSupportedException($"PayloadSamples cannot make a {type} for '{name}': teach it the type.");
    }

    private static IEnumerable<(string Label, object? Value)> Candidates(ParameterInfo property)
    {
        var type = property.ParameterType;
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (!underlying.IsValueType || underlying != type)
        {
            yield return ("null", null);
        }

        foreach (var candidate in Candidates(underlying, property.Name!))
        {
            yield return candidate;
        }
    }

    private static IEnumerable<(string Label, object? Value)> Candidates(Type type, string name)
    {
        if (type == typeof(string))
        {
            return [("\"\"", ""), ("\" \"", " "), ("\"x\"", "x")];
        }

        if (type == typeof(Guid))
        {
            return [("empty", Guid.Empty), ("a guid", JobId)];
        }

        if (type == typeof(int))
        {
            return [.. new[] { int.MinValue, -1, 0, 1, 100, 101 }.Select(i => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), (object?)i))];
        }

        if (type == typeof(double))
        {
            return [.. new[] { double.NegativeInfinity, -0.1, -0.0, 0, 1e-9, 1.5, double.MaxValue, double.PositiveInfinity, double.NaN }
                .Select(d => (d.ToString("R", System.Globalization.CultureInfo.InvariantCulture), (object?)d))];
        }

        if (type == typeof(bool))
        {
            return [("false", false), ("true", true)];
        }

        if (type == typeof(JsonElement))
        {
            return [("default", default(JsonElement)), .. new[] { "{}", """{"a":1}""", "[1]", "\"s\"", "1", "null", "true" }.Select(j => (j, (object?)Json(j)))];
        }

        if (type.IsEnum)
        {
            return [("undefined", Enum.ToObject(type, 999)), .. Enum.GetValues(type).Cast<object>().Select(v => (v.ToString()!, (object?)v))];
        }

        if (ListItemType(type) is { } item)
        {
            return [("[]", Array.CreateInstance(item, 0))];
        }

        if (type.Namespace == typeof(RealtimePayload).Namespace && type.IsClass)
        {
            return Variants(type).Select(v => (v.Property, (object?)v.Payload));
        }

        throw new NotSupportedException($"PayloadSamples cannot vary a {type} for '{name}': teach it the type.");
    }

    private static Type? ListItemType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? type.GetGenericArguments()[0]
        : type.IsArray ? type.GetElementType()
        : type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type) ? throw new NotSupportedException($"PayloadSamples cannot make a {type}.")
        : null;

    private static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
