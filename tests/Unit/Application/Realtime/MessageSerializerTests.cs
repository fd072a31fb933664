using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using static CleanRealtime.UnitTests.Api.Realtime.TestPayloads;

namespace CleanRealtime.UnitTests.Application.Realtime;

/// <summary>API.md §3.2: the envelope on the wire.</summary>
public sealed partial class MessageSerializerTests
{
    private static readonly Guid JobId = Guid.Parse("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
    private static readonly DateTimeOffset At = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1_234_567);

    public static TheoryData<string, string> EveryPayload => new()
    {
        { "metadata", "plugin,metadata" },
        { "progress", "job_id,progress,stage,plugin" },
        { "frame", "job_id,frame_id,plugin,data,timing_ms,device_used" },
        { "partial_result", "plugin,result,partial,job_id" },
        { "plugin_status", "plugin,status,timing_ms,job_id,frames_processed,warnings_count" },
        { "warning", "plugin,message,severity,frame_id,job_id" },
        { "error", "error,plugin,job_id,frame_id,details" },
        { "ping", "interval_seconds" },
        { "pong", "timestamp" },
    };

    [Theory]
    [MemberData(nameof(EveryPayload))]
    public void Serialize_EveryPayload_WritesTheEnvelopeWithSnakeCasePayloadAndNoRoutingFields(string type, string fields)
    {
        var root = Serialize(Sample(type));

        Assert.Equal(["type", "payload", "timestamp"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(type, root.GetProperty("type").GetString());
        var payload = root.GetProperty("payload");
        Assert.Equal(fields.Split(','), payload.EnumerateObject().Select(p => p.Name));
        Assert.False(payload.TryGetProperty("type", out _));
        Assert.False(payload.TryGetProperty("routing_job_id", out _));
    }

    [Fact]
    public void Serialize_Timestamp_IsUtcWithMicrosecondsAndZ()
    {
        var root = Serialize(new RealtimeMessage(new PingPayload(30), At));

        Assert.Equal("2025-01-02T03:04:05.123456Z", root.GetProperty("timestamp").GetString());
        Assert.Matches(TimestampPattern(), root.GetProperty("timestamp").GetString());
    }

    [Fact]
    public void Serialize_TimestampWithAnOffset_IsConvertedToUtc()
    {
        var local = new DateTimeOffset(2025, 1, 2, 5, 4, 5, TimeSpan.FromHours(2));

        var root = Serialize(new RealtimeMessage(new PingPayload(30), local));

        Assert.Equal("2025-01-02T03:04:05.000000Z", root.GetProperty("timestamp").GetString());
        Assert.Equal("2025-01-02T03:04:05.000000Z", MessageSerializer.FormatTimestamp(local));
    }

    [Fact]
    public void Serialize_NullOptionals_AreOmitted()
    {
        Assert.Equal(["job_id", "progress"], PayloadNames(new ProgressPayload(JobId, 5)));
        Assert.Equal(["plugin", "message"], PayloadNames(new WarningPayload("ocr", "dark")));
        Assert.Equal(["error"], PayloadNames(new ErrorPayload("boom")));
        Assert.Equal(["plugin", "status", "timing_ms"], PayloadNames(new PluginStatusPayload("ocr", PluginRunStatus.Started, 0)));
        Assert.Empty(PayloadNames(new PingPayload()));
        var details = Serialize(new RealtimeMessage(new ErrorPayload("boom", Details: new ErrorDetails(ErrorCodes.PluginTimeout, "slow")), At))
            .GetProperty("payload").GetProperty("details");
        Assert.Equal(["error_code", "message"], details.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Serialize_Values_AreWrittenAsTheSchemaSays()
    {
        var payload = Serialize(Sample("plugin_status")).GetProperty("payload");
        Assert.Equal("ocr", payload.GetProperty("plugin").GetString());
        Assert.Equal("completed", payload.GetProperty("status").GetString());
        Assert.Equal(12.5, payload.GetProperty("timing_ms").GetDouble());
        Assert.Equal(JobId.ToString(), payload.GetProperty("job_id").GetString());
        Assert.Equal(3, payload.GetProperty("frames_processed").GetInt32());

        var warning = Serialize(Sample("warning")).GetProperty("payload");
        Assert.Equal("medium", warning.GetProperty("severity").GetString());

        var metadata = Serialize(Sample("metadata")).GetProperty("payload").GetProperty("metadata");
        Assert.Equal(["version", "model", "input_shape", "output_format", "confidence_default", "capabilities"],
            metadata.EnumerateObject().Select(p => p.Name));
        Assert.Equal("[null,3]", metadata.GetProperty("input_shape").GetRawText());

        var error = Serialize(Sample("error")).GetProperty("payload").GetProperty("details");
        Assert.Equal(ErrorCodes.DeviceUnavailable, error.GetProperty("error_code").GetString());
        Assert.True(error.GetProperty("fallback").GetBoolean());
    }

    [Fact]
    public void Serialize_PluginData_IsWrittenVerbatim()
    {
        var data = Json("""{"boxes":[{"x":1,"camelCase":2,"Label":"é <b>"}]}""");

        var bytes = new MessageSerializer().Serialize(new RealtimeMessage(new FramePayload(JobId, "1", "ocr", data, 1), At));

        var text = Encoding.UTF8.GetString(bytes);
        Assert.Contains("""{"boxes":[{"x":1,"camelCase":2,"Label":"é <b>"}]}""", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Serialize_AfterAMessageThatFailed_WritesTheNextOneWhole()
    {
        var serializer = new MessageSerializer();

        Assert.ThrowsAny<ArgumentException>(() => serializer.Serialize(new RealtimeMessage(new FramePayload(JobId, "1", "ocr", Json("{}"), double.NaN), At)));
        var root = JsonDocument.Parse(serializer.Serialize(new RealtimeMessage(new ProgressPayload(JobId, 7), At))).RootElement;

        Assert.Equal("progress", root.GetProperty("type").GetString());
        Assert.Equal(7, root.GetProperty("payload").GetProperty("progress").GetInt32());
    }

    private static RealtimeMessage Sample(string type) => new(type switch
    {
        "metadata" => Metadata("ocr"),
        "progress" => new ProgressPayload(JobId, 40, "analyzing", "ocr"),
        "frame" => new FramePayload(JobId, "12", "ocr", Json("""{"boxes":[]}"""), 3.25, "cuda"),
        "partial_result" => new PartialResultPayload("ocr", Json("""{"text":"ab"}"""), true, JobId),
        "plugin_status" => new PluginStatusPayload("ocr", PluginRunStatus.Completed, 12.5, JobId, 3, 0),
        "warning" => new WarningPayload("ocr", "dark", WarningSeverity.Medium, "12", JobId),
        "error" => new ErrorPayload("no gpu", "ocr", JobId, "12", new ErrorDetails(ErrorCodes.DeviceUnavailable, "no gpu", true)),
        "ping" => new PingPayload(30),
        "pong" => new PongPayload("2025-01-02T03:04:05Z"),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    }, At);

    private static JsonElement Serialize(RealtimeMessage message)
    {
        using var document = JsonDocument.Parse(new MessageSerializer().Serialize(message));
        return document.RootElement.Clone();
    }

    private static string[] PayloadNames(RealtimePayload payload) =>
        [.. Serialize(new RealtimeMessage(payload, At)).GetProperty("payload").EnumerateObject().Select(p => p.Name)];

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")]
    private static partial Regex TimestampPattern();

    [Fact]
    public void Serialize_MessageWithSeq_WritesSeqAfterTheTimestamp()
    {
        var message = new RealtimeMessage(new ProgressPayload(JobId, 5), At, Seq: 42);

        var json = Encoding.UTF8.GetString(new MessageSerializer().Serialize(message));
        var outbound = new MessageSerializer().ToOutbound(message);

        Assert.EndsWith("\"timestamp\":\"2025-01-02T03:04:05.123456Z\",\"seq\":42}", json, StringComparison.Ordinal);
        Assert.Equal(42, outbound.Seq);
        Assert.Equal(MessageType.Progress, outbound.Type);
        Assert.Equal(json, Encoding.UTF8.GetString(outbound.Json));
    }

    public static TheoryData<FramePayload, long?> Frames()
    {
        JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();
        return new()
        {
            { new FramePayload(JobId, "frame-000001", "ball_detection", Json("""{"x":1,"y":[1.5,-2e-7,null],"z":{"a":"b"}}"""), 1.25), null },
            { new FramePayload(JobId, "frame-000002", "ball_detection", Json("{}"), 0, "cuda:0"), 7 },
            { new FramePayload(JobId, "fr\u00e9me <\"quoted\"> \n\t", "plugin/ü", Json("""{"s":"<é>\u2028"}"""), 1e-9, "cpu"), long.MaxValue },
            { new FramePayload(Guid.NewGuid(), "f", "p", Json("""{"big":12345678901234567890,"neg":-0.0}"""), 123456789.123456789), 1 },
        };
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Serialize_Frame_HandWrittenPathIsByteForByteTheContract(FramePayload frame, long? seq)
    {
        var serializer = new MessageSerializer();
        var message = new RealtimeMessage(frame, At, seq);

        var fast = serializer.Serialize(message, fastFrames: true);
        var contract = serializer.Serialize(message, fastFrames: false);

        Assert.Equal(Encoding.UTF8.GetString(contract), Encoding.UTF8.GetString(fast));
    }
}
