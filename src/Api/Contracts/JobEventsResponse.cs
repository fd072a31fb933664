using System.Text.Json;
using System.Text.Json.Serialization;
using CleanRealtime.Application.Jobs.GetJobEvents;

namespace CleanRealtime.Api.Contracts;

/// <summary><c>GET /v1/jobs/{id}/events</c> (API.md §2.7): envelopes exactly as subscribers received them.</summary>
public sealed record JobEventsResponse(IReadOnlyList<RawEnvelope> Items, long NextSince, bool Finished)
{
    public static JobEventsResponse From(JobEventsPage page)
    {
        ArgumentNullException.ThrowIfNull(page);
        return new JobEventsResponse([.. page.Items.Select(m => new RawEnvelope(m.Json))], page.NextSince, page.Finished);
    }
}

/// <summary>One realtime envelope, written as its stored UTF-8 JSON (same bytes as on the WebSocket).</summary>
[JsonConverter(typeof(RawEnvelopeConverter))]
public readonly record struct RawEnvelope(byte[] Utf8Json);

internal sealed class RawEnvelopeConverter : JsonConverter<RawEnvelope>
{
    public override RawEnvelope Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new RawEnvelope(JsonSerializer.SerializeToUtf8Bytes(document.RootElement));
    }

    public override void Write(Utf8JsonWriter writer, RawEnvelope value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Utf8Json, skipInputValidation: true);
}
