using System.Globalization;
using System.Text.Json;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.UnitTests.Api.Realtime;

internal static class TestPayloads
{
    public static FramePayload Frame(Guid jobId, int sequence) =>
        new(jobId, sequence.ToString(CultureInfo.InvariantCulture), "ocr", Json("""{"boxes":[]}"""), 1.5, "cpu");

    public static PartialResultPayload PartialResult(Guid jobId) => new("ocr", Json("""{"text":"ab"}"""), JobId: jobId);

    public static ProgressPayload Progress(Guid jobId, int progress) => new(jobId, progress);

    /// <summary>A message that may not be dropped, told apart by <paramref name="sequence"/> (frames_processed).</summary>
    public static PluginStatusPayload Status(Guid jobId, int sequence) => new("ocr", PluginRunStatus.Running, 2.5, jobId, sequence);

    public static ErrorPayload Error(Guid? jobId, string error) =>
        new(error, "ocr", jobId, Details: new ErrorDetails(ErrorCodes.PluginCrash, error));

    public static MetadataPayload Metadata(string plugin) =>
        new(plugin, new PluginDescription("1.0.0", "tiny", [null, 3], "boxes", 0.5, ["detect"]));

    public static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
