using System.Text;
using System.Text.Json;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using static CleanRealtime.UnitTests.Application.Realtime.PayloadSamples;

namespace CleanRealtime.UnitTests.Application.Realtime;

/// <summary>
/// The registry of message kinds is complete and its fast paths say what the contract says. Payloads are found and
/// built by reflection (<see cref="PayloadSamples"/>), every property set: a new payload, or a new property that the
/// hand-written writer or checks ignore, fails here without anyone extending a list.
/// </summary>
public sealed class MessageKindsTests
{
    private static readonly DateTimeOffset At = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1_234_567);

    public static TheoryData<MessageType> EveryKind() => [.. MessageKinds.All.Select(k => k.Type)];

    public static TheoryData<MessageType> FastWriters() => [.. MessageKinds.All.Where(k => k.HasFastWriter).Select(k => k.Type)];

    public static TheoryData<MessageType> FastChecks() => [.. MessageKinds.All.Where(k => k.HasFastCheck).Select(k => k.Type)];

    [Fact]
    public void EveryPayloadRecord_HasExactlyOneKind()
    {
        var payloads = PayloadTypes();

        Assert.NotEmpty(payloads);
        Assert.All(payloads, t => Assert.Single(MessageKinds.All, k => k.PayloadType == t));
        Assert.Equal(payloads.Count, MessageKinds.All.Count);
    }

    [Fact]
    public void EveryMessageType_HasExactlyOneKind_InTheEnumsOrder()
    {
        Assert.Equal(Enum.GetValues<MessageType>(), MessageKinds.All.Select(k => k.Type));
        Assert.All(Enum.GetValues<MessageType>(), t => Assert.Equal(t, MessageKinds.Of(t).Type));
    }

    [Theory]
    [MemberData(nameof(EveryKind))]
    public void Kind_IsTheKindOfItsPayload(MessageType type)
    {
        var kind = MessageKinds.Of(type);
        var payload = (RealtimePayload)Full(kind.PayloadType);

        Assert.Equal(type, payload.Type);
        Assert.True(MessageKinds.TryFind(payload, out var found));
        Assert.Same(kind, found);
        Assert.Same(kind, MessageKinds.Of(payload));
    }

    [Fact]
    public void Droppable_AreFramesAndPartialResults()
    {
        // API.md §3.5: only frame and partial_result may be dropped for a slow consumer.
        Assert.Equal([MessageType.Frame, MessageType.PartialResult], MessageKinds.All.Where(k => k.Droppable).Select(k => k.Type));
        Assert.All(MessageKinds.All, k => Assert.Equal(k.Droppable, k.Type.IsDroppable()));
    }

    [Fact]
    public void AnUnknownPayload_HasNoKind_AndCannotBeWritten()
    {
        var payload = new UnknownPayload();

        Assert.False(MessageKinds.TryFind(payload, out _));
        Assert.Throws<NotSupportedException>(() => new MessageSerializer().Serialize(new RealtimeMessage(payload, At)));
    }

    [Theory]
    [MemberData(nameof(EveryKind))]
    public void Validator_AcceptsAPayloadWithEveryPropertySet(MessageType type)
    {
        var kind = MessageKinds.Of(type);
        var payload = (RealtimePayload)Full(kind.PayloadType);

        var result = kind.Validate(payload);

        Assert.True(result.IsValid, $"{payload}: {result}");
        Assert.True(kind.IsValid(payload));
    }

    [Theory]
    [MemberData(nameof(EveryKind))]
    public void Json_WritesEveryPropertyOfAFullPayload_AndReadsItBack(MessageType type)
    {
        var kind = MessageKinds.Of(type);
        var payload = Full(kind.PayloadType);

        var json = JsonSerializer.SerializeToUtf8Bytes(payload, kind.JsonTypeInfo);
        using var document = JsonDocument.Parse(json);
        AssertEveryProperty(kind.PayloadType, document.RootElement);

        var read = JsonSerializer.Deserialize(json, kind.JsonTypeInfo);
        Assert.IsType(kind.PayloadType, read);
        Assert.Equal(Encoding.UTF8.GetString(json), Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(read, kind.JsonTypeInfo)));
    }

    [Theory]
    [MemberData(nameof(FastWriters))]
    public void FastWriter_WritesWhatTheContractWrites_WithEveryPropertySetAndEachOptionalLeftOut(MessageType type)
    {
        var kind = MessageKinds.Of(type);
        var serializer = new MessageSerializer();
        var samples = WithEachOptionalNull(kind.PayloadType, "fr\u00e9me <\"quoted\"> \n\t \u2028 /ü").ToList();

        foreach (var (property, payload) in samples)
        {
            var message = new RealtimeMessage((RealtimePayload)payload, At, Seq: 7);

            var fast = Encoding.UTF8.GetString(serializer.Serialize(message, fastFrames: true));
            var contract = Encoding.UTF8.GetString(serializer.Serialize(message, fastFrames: false));

            Assert.True(contract == fast, $"{property}:\ncontract {contract}\nfast     {fast}");
        }

        // The full sample has every property on the wire, so the comparison above covered each one.
        using var full = JsonDocument.Parse(serializer.Serialize(new RealtimeMessage((RealtimePayload)samples[0].Payload, At), fastFrames: true));
        AssertEveryProperty(kind.PayloadType, full.RootElement.GetProperty("payload"));
    }

    [Theory]
    [MemberData(nameof(FastChecks))]
    public void FastCheck_AgreesWithTheValidator_ForEachPropertySetToValidAndInvalidValues(MessageType type)
    {
        var kind = MessageKinds.Of(type);
        var variants = Variants(kind.PayloadType).ToList();

        Assert.True(kind.IsValid((RealtimePayload)variants[0].Payload), "the sample with every property valid must pass");
        Assert.All(PayloadSamples.Properties(kind.PayloadType), p => Assert.Contains(variants, v => v.Property.StartsWith(WireName(p) + " = ", StringComparison.Ordinal)));
        Assert.Contains(variants, v => !kind.Validate((RealtimePayload)v.Payload).IsValid);
        foreach (var (property, payload) in variants)
        {
            var validator = kind.Validate((RealtimePayload)payload);
            Assert.True(validator.IsValid == kind.IsValid((RealtimePayload)payload),
                $"{property}: the validator says {(validator.IsValid ? "valid" : validator.ToString("; "))}, the fast check the opposite");
        }
    }

    /// <summary>Each of the record's properties is written, non-null, under its snake_case name, in declaration order.</summary>
    private static void AssertEveryProperty(Type record, JsonElement json)
    {
        var properties = PayloadSamples.Properties(record);
        Assert.Equal(properties.Select(WireName), json.EnumerateObject().Select(p => p.Name));
        foreach (var property in properties)
        {
            var value = json.GetProperty(WireName(property));
            Assert.NotEqual(JsonValueKind.Null, value.ValueKind);
            var type = property.ParameterType;
            if (type.Namespace == typeof(RealtimePayload).Namespace && type.IsClass)
            {
                AssertEveryProperty(type, value);
            }
        }
    }

    private sealed record UnknownPayload : RealtimePayload
    {
        public override MessageType Type => MessageType.Frame;

        public override Guid? RoutingJobId => null;
    }
}
