using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Validation;
using CleanRealtime.Domain.Realtime;
using FluentValidation.Results;

namespace CleanRealtime.UnitTests.Application.Realtime;

/// <summary>
/// The message types of API.md §3.2: each payload goes through the real <see cref="RealtimeMessageValidator"/> (which
/// dispatches to the payload's own validator) and, for what is stored on the wire, through the real
/// <see cref="MessageSerializer"/>, whose output is parsed back with <see cref="JsonDocument"/>.
/// </summary>
public sealed partial class RealtimeMessageValidatorTests
{
    private static readonly RealtimeMessageValidator Validator = new();
    private static readonly MessageSerializer Serializer = new();

    // 12:30:45.1234567 UTC: sub-millisecond digits that a millisecond-only format would lose.
    private static readonly DateTimeOffset At = new DateTimeOffset(2026, 11, 25, 12, 30, 45, TimeSpan.Zero).AddTicks(1_234_567);
    private static readonly Guid JobId = Guid.Parse("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab");

    private static readonly JsonElement BallData =
        JsonDocument.Parse("""{"balls":[{"x":10,"y":20,"radius":4,"confidence":0.93}],"count":1}""").RootElement.Clone();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{4,7}Z$")]
    private static partial Regex IsoUtcWithSubMillisecond();

    private static FramePayload Frame(string frameId = "frame-000001", string plugin = "ball_detection", JsonElement? data = null, double timingMs = 12.75) =>
        new(JobId, frameId, plugin, data ?? BallData, timingMs, "cpu");

    private static ValidationResult Validate(RealtimePayload payload, DateTimeOffset? at = null) =>
        Validator.Validate(new RealtimeMessage(payload, at ?? At));

    private static void AssertValid(RealtimePayload payload)
    {
        var result = Validate(payload);
        Assert.True(result.IsValid, result.ToString("; "));
    }

    private static void AssertRejected(RealtimePayload payload, string property)
    {
        var result = Validate(payload);
        Assert.False(result.IsValid, $"{payload} should have been rejected");
        Assert.Contains(result.Errors, e => e.PropertyName.EndsWith(property, StringComparison.Ordinal));
    }

    private static JsonElement Wire(RealtimePayload payload)
    {
        var json = Serializer.Serialize(new RealtimeMessage(payload, At));
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static JsonElement WirePayload(RealtimePayload payload) => Wire(payload).GetProperty("payload");

    private static string[] Names(JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name)];

    private static void AssertEnvelope(JsonElement root, string type)
    {
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        Assert.Equal(["type", "payload", "timestamp"], Names(root));
        Assert.Equal(type, root.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Object, root.GetProperty("payload").ValueKind);
        var timestamp = root.GetProperty("timestamp").GetString()!;
        Assert.Matches(IsoUtcWithSubMillisecond(), timestamp);
        var parsed = DateTimeOffset.Parse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        Assert.Equal(TimeSpan.Zero, parsed.Offset);
        Assert.InRange((At - parsed).Duration(), TimeSpan.Zero, TimeSpan.FromTicks(10)); // kept to the microsecond
    }

    // ---- 3.1 frame ----

    [Fact]
    public void FrameMessageSchemaValid()
    {
        AssertValid(Frame());
        AssertValid(Frame() with { DeviceUsed = null });
        AssertValid(Frame(timingMs: 0));
        AssertRejected(Frame() with { JobId = Guid.Empty }, "JobId");
    }

    [Fact]
    public void FrameMessageHasFrameId()
    {
        Assert.Equal("frame-000042", WirePayload(Frame("frame-000042")).GetProperty("frame_id").GetString());
        AssertRejected(Frame(frameId: ""), "FrameId");
        AssertRejected(Frame(frameId: null!), "FrameId");
    }

    [Fact]
    public void FrameMessageHasPlugin()
    {
        var plugin = WirePayload(Frame(plugin: "motion_detection")).GetProperty("plugin");
        Assert.Equal(JsonValueKind.String, plugin.ValueKind);
        Assert.Equal("motion_detection", plugin.GetString());
        AssertRejected(Frame(plugin: ""), "Plugin");
        AssertRejected(Frame(plugin: null!), "Plugin");
    }

    [Fact]
    public void FrameMessageHasData()
    {
        var data = WirePayload(Frame()).GetProperty("data");
        Assert.Equal(JsonValueKind.Object, data.ValueKind);
        Assert.Equal(1, data.GetProperty("count").GetInt32());
        Assert.Equal(0.93, data.GetProperty("balls")[0].GetProperty("confidence").GetDouble());
        Assert.True(JsonElement.DeepEquals(BallData, data));

        AssertRejected(Frame(data: JsonDocument.Parse("[1,2]").RootElement.Clone()), "ValueKind");
        AssertRejected(Frame(data: JsonDocument.Parse("\"text\"").RootElement.Clone()), "ValueKind");
        AssertRejected(Frame(data: default(JsonElement)), "ValueKind");
    }

    [Fact]
    public void FrameMessageHasTimingMs()
    {
        var timing = WirePayload(Frame(timingMs: 12.75)).GetProperty("timing_ms");
        Assert.Equal(JsonValueKind.Number, timing.ValueKind);
        Assert.Equal(12.75, timing.GetDouble());

        AssertRejected(Frame(timingMs: -0.5), "TimingMs");
        AssertRejected(Frame(timingMs: double.NaN), "TimingMs");
        AssertRejected(Frame(timingMs: double.PositiveInfinity), "TimingMs");
    }

    [Fact]
    public void FrameMessageSerializable()
    {
        var root = Wire(Frame());

        AssertEnvelope(root, "frame");
        var payload = root.GetProperty("payload");
        Assert.Equal(["job_id", "frame_id", "plugin", "data", "timing_ms", "device_used"], Names(payload));
        Assert.Equal(JobId, payload.GetProperty("job_id").GetGuid());
        Assert.Equal("cpu", payload.GetProperty("device_used").GetString());
        Assert.Equal("2026-11-25T12:30:45.123456Z", root.GetProperty("timestamp").GetString());
    }

    [Fact]
    public void FrameMessage_OptionalDeviceUsedAbsent_IsLeftOutOfTheJson()
    {
        var payload = WirePayload(Frame() with { DeviceUsed = null });

        Assert.False(payload.TryGetProperty("device_used", out _));
    }

    // ---- 3.2 progress ----

    [Fact]
    public void ProgressMessageSchemaValid()
    {
        AssertValid(new ProgressPayload(JobId, 42));
        AssertValid(new ProgressPayload(JobId, 42, "analyzing", "ball_detection"));

        var root = Wire(new ProgressPayload(JobId, 42, "analyzing"));
        AssertEnvelope(root, "progress");
        Assert.Equal(["job_id", "progress", "stage"], Names(root.GetProperty("payload")));

        AssertRejected(new ProgressPayload(JobId, 42, "halfway"), "Stage");
    }

    [Fact]
    public void ProgressMessageHasJobId()
    {
        var jobId = WirePayload(new ProgressPayload(JobId, 10)).GetProperty("job_id");
        Assert.Equal(JsonValueKind.String, jobId.ValueKind);
        Assert.Equal(JobId.ToString(), jobId.GetString());

        AssertRejected(new ProgressPayload(Guid.Empty, 10), "JobId");
    }

    [Fact]
    public void ProgressMessageHasProgress()
    {
        var progress = WirePayload(new ProgressPayload(JobId, 73)).GetProperty("progress");

        Assert.Equal(JsonValueKind.Number, progress.ValueKind);
        Assert.True(progress.TryGetInt32(out var value));
        Assert.Equal(73, value);
        Assert.Equal("73", progress.GetRawText());
    }

    [Fact]
    public void ProgressMessageProgressRange()
    {
        AssertValid(new ProgressPayload(JobId, 50));
        Assert.Equal(50, WirePayload(new ProgressPayload(JobId, 50)).GetProperty("progress").GetInt32());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    public void ProgressMessageProgressBoundary(int progress)
    {
        AssertValid(new ProgressPayload(JobId, progress));
        AssertValid(new ProgressPayload(JobId, progress, progress == 0 ? "started" : "completed"));
    }

    [Theory]
    [InlineData(150)]
    [InlineData(101)]
    [InlineData(-1)]
    public void ProgressMessageProgressInvalid(int progress)
    {
        var result = Validate(new ProgressPayload(JobId, progress));

        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.EndsWith("Progress", error.PropertyName, StringComparison.Ordinal);
    }

    // ---- 3.3 plugin_status ----

    [Fact]
    public void PluginStatusMessageValid()
    {
        AssertValid(new PluginStatusPayload("ball_detection", PluginRunStatus.Completed, 145.5, JobId, 120, 2));
        AssertValid(new PluginStatusPayload("ball_detection", PluginRunStatus.Started, 0));

        var root = Wire(new PluginStatusPayload("ball_detection", PluginRunStatus.Completed, 145.5, JobId, 120, 2));
        AssertEnvelope(root, "plugin_status");
        Assert.Equal(["plugin", "status", "timing_ms", "job_id", "frames_processed", "warnings_count"], Names(root.GetProperty("payload")));

        AssertRejected(new PluginStatusPayload("ball_detection", PluginRunStatus.Completed, 1, JobId, FramesProcessed: -1), "FramesProcessed");
        AssertRejected(new PluginStatusPayload("ball_detection", PluginRunStatus.Completed, 1, JobId, WarningsCount: -1), "WarningsCount");
    }

    [Fact]
    public void PluginStatusMessageHasPlugin()
    {
        Assert.Equal("pitch_detection", WirePayload(new PluginStatusPayload("pitch_detection", PluginRunStatus.Running, 3)).GetProperty("plugin").GetString());
        AssertRejected(new PluginStatusPayload("", PluginRunStatus.Running, 3), "Plugin");
    }

    [Fact]
    public void PluginStatusMessageHasStatus()
    {
        var status = WirePayload(new PluginStatusPayload("ball_detection", PluginRunStatus.Failed, 3)).GetProperty("status");

        Assert.Equal(JsonValueKind.String, status.ValueKind);
        Assert.Equal("failed", status.GetString());
        AssertRejected(new PluginStatusPayload("ball_detection", (PluginRunStatus)42, 3), "Status");
    }

    [Fact]
    public void PluginStatusMessageHasTimingMs()
    {
        var timing = WirePayload(new PluginStatusPayload("ball_detection", PluginRunStatus.Completed, 145.5)).GetProperty("timing_ms");
        Assert.Equal(JsonValueKind.Number, timing.ValueKind);
        Assert.Equal(145.5, timing.GetDouble());

        AssertValid(new PluginStatusPayload("ball_detection", PluginRunStatus.Completed, 0));
        AssertRejected(new PluginStatusPayload("ball_detection", PluginRunStatus.Completed, -0.1), "TimingMs");
        AssertRejected(new PluginStatusPayload("ball_detection", PluginRunStatus.Completed, double.NaN), "TimingMs");
    }

    [Theory]
    [InlineData(PluginRunStatus.Started, "started")]
    [InlineData(PluginRunStatus.Running, "running")]
    [InlineData(PluginRunStatus.Completed, "completed")]
    [InlineData(PluginRunStatus.Failed, "failed")]
    public void PluginStatusMessageStatusValues(PluginRunStatus status, string wire)
    {
        AssertValid(new PluginStatusPayload("ball_detection", status, 1.5, JobId));
        Assert.Equal(wire, WirePayload(new PluginStatusPayload("ball_detection", status, 1.5, JobId)).GetProperty("status").GetString());
    }

    // ---- 3.4 warning ----

    [Fact]
    public void WarningMessageValid()
    {
        AssertValid(new WarningPayload("frame_quality", "frame is blurry"));
        AssertValid(new WarningPayload("frame_quality", "frame is blurry", WarningSeverity.High, "frame-000007", JobId));

        var root = Wire(new WarningPayload("frame_quality", "frame is blurry", WarningSeverity.High, "frame-000007", JobId));
        AssertEnvelope(root, "warning");
        Assert.Equal(["plugin", "message", "severity", "frame_id", "job_id"], Names(root.GetProperty("payload")));

        AssertRejected(new WarningPayload("frame_quality", "blurry", FrameId: ""), "FrameId");
    }

    [Fact]
    public void WarningMessageHasPlugin()
    {
        Assert.Equal("frame_quality", WirePayload(new WarningPayload("frame_quality", "dark")).GetProperty("plugin").GetString());
        AssertRejected(new WarningPayload("", "dark"), "Plugin");
    }

    [Fact]
    public void WarningMessageHasMessage()
    {
        Assert.Equal("frame is underexposed", WirePayload(new WarningPayload("frame_quality", "frame is underexposed")).GetProperty("message").GetString());
        AssertRejected(new WarningPayload("frame_quality", ""), "Message");
        AssertRejected(new WarningPayload("frame_quality", null!), "Message");
    }

    [Fact]
    public void WarningMessageHasSeverity()
    {
        // Optional: absent is valid and left out of the JSON.
        AssertValid(new WarningPayload("frame_quality", "dark"));
        Assert.False(WirePayload(new WarningPayload("frame_quality", "dark")).TryGetProperty("severity", out _));

        // Present: each of low/medium/high is accepted and written in snake_case.
        foreach (var (severity, wire) in new[] { (WarningSeverity.Low, "low"), (WarningSeverity.Medium, "medium"), (WarningSeverity.High, "high") })
        {
            AssertValid(new WarningPayload("frame_quality", "dark", severity));
            Assert.Equal(wire, WirePayload(new WarningPayload("frame_quality", "dark", severity)).GetProperty("severity").GetString());
        }

        AssertRejected(new WarningPayload("frame_quality", "dark", (WarningSeverity)9), "Severity");
    }

    // ---- 3.5 error ----

    [Fact]
    public void ErrorMessageValid()
    {
        AssertValid(new ErrorPayload("plugin ball_detection failed"));
        AssertValid(new ErrorPayload(
            "plugin ball_detection failed", "ball_detection", JobId, "frame-000003", new ErrorDetails(ErrorCodes.PluginCrash, "boom")));

        var root = Wire(new ErrorPayload(
            "plugin ball_detection failed", "ball_detection", JobId, "frame-000003", new ErrorDetails(ErrorCodes.PluginCrash, "boom")));
        AssertEnvelope(root, "error");
        Assert.Equal(["error", "plugin", "job_id", "frame_id", "details"], Names(root.GetProperty("payload")));

        AssertRejected(new ErrorPayload("failed", Plugin: ""), "Plugin");
    }

    [Fact]
    public void ErrorMessageHasError()
    {
        var error = WirePayload(new ErrorPayload("source cannot be read")).GetProperty("error");
        Assert.Equal(JsonValueKind.String, error.ValueKind);
        Assert.Equal("source cannot be read", error.GetString());

        AssertRejected(new ErrorPayload(""), "Error");
        AssertRejected(new ErrorPayload(null!), "Error");
    }

    [Fact]
    public void ErrorMessageHasDetails()
    {
        // Optional: absent is valid and left out.
        AssertValid(new ErrorPayload("failed"));
        Assert.False(WirePayload(new ErrorPayload("failed")).TryGetProperty("details", out _));

        // Present: stored as an object with snake_case fields.
        var payload = new ErrorPayload("gpu requested", Details: new ErrorDetails(ErrorCodes.DeviceUnavailable, "no CUDA device", Fallback: true));
        AssertValid(payload);
        var details = WirePayload(payload).GetProperty("details");
        Assert.Equal(JsonValueKind.Object, details.ValueKind);
        Assert.Equal(["error_code", "message", "fallback"], Names(details));
        Assert.Equal("DEVICE_UNAVAILABLE", details.GetProperty("error_code").GetString());
        Assert.Equal("no CUDA device", details.GetProperty("message").GetString());
        Assert.True(details.GetProperty("fallback").GetBoolean());

        // Present but wrong: an unknown code or an empty message.
        AssertRejected(new ErrorPayload("failed", Details: new ErrorDetails("SOMETHING_ELSE", "x")), "ErrorCode");
        AssertRejected(new ErrorPayload("failed", Details: new ErrorDetails(ErrorCodes.PluginCrash, "")), "Message");
    }

    [Theory]
    [InlineData(ErrorCodes.InvalidJson)]
    [InlineData(ErrorCodes.MissingField)]
    [InlineData(ErrorCodes.UnknownType)]
    [InlineData(ErrorCodes.PluginTimeout)]
    [InlineData(ErrorCodes.PluginCrash)]
    [InlineData(ErrorCodes.DeviceUnavailable)]
    [InlineData(ErrorCodes.SourceUnreadable)]
    public void ErrorMessage_EveryDocumentedErrorCode_IsAccepted(string code) =>
        AssertValid(new ErrorPayload("failed", Details: new ErrorDetails(code, "why")));

    // ---- 3.6 ping / pong ----

    [Fact]
    public void PingMessageValid()
    {
        AssertValid(new PingPayload());
        AssertValid(new PingPayload(30));

        var root = Wire(new PingPayload(30));
        AssertEnvelope(root, "ping");
        Assert.Equal(30, root.GetProperty("payload").GetProperty("interval_seconds").GetInt32());
        Assert.Empty(Names(WirePayload(new PingPayload())));

        AssertRejected(new PingPayload(0), "IntervalSeconds");
    }

    [Fact]
    public void PongMessageValid()
    {
        AssertValid(new PongPayload("2026-11-25T12:30:45.123Z"));

        var root = Wire(new PongPayload("2026-11-25T12:30:45.123Z"));
        AssertEnvelope(root, "pong");
        Assert.Equal("2026-11-25T12:30:45.123Z", root.GetProperty("payload").GetProperty("timestamp").GetString());

        AssertRejected(new PongPayload(""), "Timestamp");
    }

    // ---- envelope ----

    [Fact]
    public void Validate_TimestampNotUtc_IsRejected()
    {
        var result = Validate(new PingPayload(30), new DateTimeOffset(2026, 11, 25, 14, 30, 45, TimeSpan.FromHours(2)));

        Assert.False(result.IsValid);
        Assert.Contains(result.Errors, e => e.PropertyName.StartsWith("Timestamp", StringComparison.Ordinal));
    }

    [Fact]
    public void Serialize_TimestampGivenWithAnOffset_IsWrittenAsTheSameInstantInUtc()
    {
        var local = new DateTimeOffset(2026, 11, 25, 14, 30, 45, TimeSpan.FromHours(2)).AddTicks(1_234_567);

        using var document = JsonDocument.Parse(Serializer.Serialize(new RealtimeMessage(new PingPayload(30), local)));

        Assert.Equal("2026-11-25T12:30:45.123456Z", document.RootElement.GetProperty("timestamp").GetString());
    }

    [Fact]
    public void Serialize_EveryPayloadType_WritesItsWireTypeAndNoRoutingFields()
    {
        RealtimePayload[] payloads =
        [
            new MetadataPayload("ball_detection", new PluginDescription("1.0.0", "hough", [null, null, 3], "{ balls }", 0.5, ["cpu"])),
            new ProgressPayload(JobId, 1),
            Frame(),
            new PartialResultPayload("ball_detection", BallData, true, JobId),
            new PluginStatusPayload("ball_detection", PluginRunStatus.Started, 0, JobId),
            new WarningPayload("ball_detection", "w", JobId: JobId),
            new ErrorPayload("e", JobId: JobId),
            new PingPayload(30),
            new PongPayload("t"),
        ];

        foreach (var payload in payloads)
        {
            AssertValid(payload);
            var root = Wire(payload);
            AssertEnvelope(root, payload.Type.ToWire());
            var names = Names(root.GetProperty("payload"));
            Assert.DoesNotContain("type", names);
            Assert.DoesNotContain("routing_job_id", names);
            Assert.All(names, n => Assert.Matches("^[a-z]+(_[a-z]+)*$", n));
        }
    }

    [Fact]
    public void Envelope_JobMessageWithSeqFromOne_IsValid() =>
        Assert.True(Validator.Validate(new RealtimeMessage(Frame(), At, Seq: 1)).IsValid);

    [Theory]
    [InlineData(0L)]
    [InlineData(-4L)]
    public void Envelope_SeqBelowOne_IsInvalid(long seq) =>
        Assert.Contains(Validator.Validate(new RealtimeMessage(Frame(), At, seq)).Errors, e => e.PropertyName == "Seq");

    [Fact]
    public void Envelope_MessageAboutNoJobWithASeq_IsInvalid()
    {
        Assert.Contains(Validator.Validate(new RealtimeMessage(new PingPayload(30), At, 3)).Errors, e => e.ErrorMessage.Contains("only for messages about a job", StringComparison.Ordinal));
        Assert.True(Validator.Validate(new RealtimeMessage(new PingPayload(30), At)).IsValid);
    }

    [Fact]
    public void ErrorCodes_EveryConstant_IsAValidErrorCode()
    {
        var constants = typeof(ErrorCodes).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();

        Assert.Contains(ErrorCodes.ReplayUnavailable, constants);
        Assert.Equal(constants.Order(StringComparer.Ordinal), ErrorCodes.All.Order(StringComparer.Ordinal));
        Assert.All(constants, code => Assert.True(
            Validate(new ErrorPayload("e", Details: new ErrorDetails(code, "m"))).IsValid, code));
    }
}
