using System.Text.Json;
using CleanRealtime.Application.Realtime.Validation;
using CleanRealtime.Domain.Realtime;

namespace CleanRealtime.UnitTests.Application.Realtime;

/// <summary>The direct payload check used before every send applies exactly the rules the envelope applies.</summary>
public sealed class PayloadValidationPathTests
{
    private static readonly JsonElement Data = JsonDocument.Parse("""{"x":1}""").RootElement.Clone();
    private static readonly JsonElement NotAnObject = JsonDocument.Parse("[1]").RootElement.Clone();

    public static TheoryData<RealtimePayload> Payloads() =>
    [
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", Data, 1.5),
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", Data, -1),
        new FramePayload(Guid.NewGuid(), "", "ball_detection", NotAnObject, double.NaN),
        new ProgressPayload(Guid.NewGuid(), 50),
        new ProgressPayload(Guid.NewGuid(), 150, "exploded"),
        new PluginStatusPayload("p", (PluginRunStatus)9, 1),
        new WarningPayload("p", ""),
        new ErrorPayload("boom", Details: new ErrorDetails("NOT_A_CODE", "m")),
        new PingPayload(0),
        new PongPayload("t"),
        new PartialResultPayload("p", Data, Partial: false),
        new MetadataPayload("p", new PluginDescription("1", "m", [null, null, 3], "f", 2, [])),
    ];

    [Theory]
    [MemberData(nameof(Payloads))]
    public void ValidatePayload_AgreesWithTheEnvelopeValidator(RealtimePayload payload)
    {
        var validator = new RealtimeMessageValidator();

        var direct = validator.ValidatePayload(payload);
        var envelope = validator.Validate(new RealtimeMessage(payload, DateTimeOffset.UtcNow));

        Assert.Equal(envelope.IsValid, direct.IsValid);
        Assert.Equal(envelope.Errors.Select(e => e.ErrorMessage).Order(), direct.Errors.Select(e => e.ErrorMessage).Order());
    }

    public static TheoryData<RealtimePayload> PerFramePayloads() =>
    [
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", Data, 1.5),
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", Data, 0, "cuda"),
        new FramePayload(Guid.Empty, "frame-000001", "ball_detection", Data, 1.5),
        new FramePayload(Guid.NewGuid(), " ", "ball_detection", Data, 1.5),
        new FramePayload(Guid.NewGuid(), "frame-000001", "", Data, 1.5),
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", NotAnObject, 1.5),
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", default, 1.5),
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", Data, -0.1),
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", Data, double.PositiveInfinity),
        new FramePayload(Guid.NewGuid(), "frame-000001", "ball_detection", Data, 1.5, "  "),
        new PartialResultPayload("p", Data),
        new PartialResultPayload("p", Data, JobId: Guid.NewGuid()),
        new PartialResultPayload("", Data),
        new PartialResultPayload("p", NotAnObject),
        new PartialResultPayload("p", Data, Partial: false),
        new PartialResultPayload("p", Data, JobId: Guid.Empty),
        new ProgressPayload(Guid.NewGuid(), 150, "exploded"),
    ];

    [Theory]
    [MemberData(nameof(PerFramePayloads))]
    [MemberData(nameof(Payloads))]
    public void IsValid_AgreesWithValidatePayload(RealtimePayload payload)
    {
        var validator = new RealtimeMessageValidator();

        Assert.Equal(validator.ValidatePayload(payload).IsValid, validator.IsValid(payload));
    }

    [Fact]
    public void ValidatePayload_UnknownPayloadType_IsRefused()
    {
        var result = new RealtimeMessageValidator().ValidatePayload(new UnknownPayload());

        Assert.False(result.IsValid);
        Assert.Contains("not a known payload", Assert.Single(result.Errors).ErrorMessage, StringComparison.Ordinal);
    }

    private sealed record UnknownPayload : RealtimePayload
    {
        public override MessageType Type => MessageType.Frame;

        public override Guid? RoutingJobId => null;
    }
}
