using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace CleanRealtime.Application.Execution;

/// <summary>How plugin results become JSON: snake_case, once per result, into an immutable element.</summary>
internal static class PluginResultJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.Strict,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    /// <summary>Serializes a plugin's result; the result must be a JSON object.</summary>
    public static JsonElement ToElement(object result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var element = JsonSerializer.SerializeToElement(result, result.GetType(), Options);
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidOperationException($"A plugin result must serialize to a JSON object, not {element.ValueKind}.");
        }

        return element;
    }
}
