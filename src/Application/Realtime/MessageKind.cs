using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CleanRealtime.Domain.Realtime;
using FluentValidation;
using FluentValidation.Results;
using FluentValidation.Validators;

namespace CleanRealtime.Application.Realtime;

/// <summary>
/// What the server knows about one message type: its payload record, how the payload is written, how it is checked,
/// and whether a slow consumer may lose it. One row of <see cref="MessageKinds"/>.
/// </summary>
internal abstract class MessageKind
{
    private protected MessageKind(MessageType type, Type payloadType, bool droppable)
    {
        Type = type;
        PayloadType = payloadType;
        Droppable = droppable;
    }

    public MessageType Type { get; }

    /// <summary>The <see cref="RealtimePayload"/> record of this type.</summary>
    public Type PayloadType { get; }

    /// <summary>
    /// Per-frame data that a slow consumer may lose (API.md §3.5); everything else must arrive or the connection closes.
    /// </summary>
    public bool Droppable { get; }

    /// <summary>The payload's source-generated contract: snake_case, declaration order, null left out, no routing fields.</summary>
    public abstract JsonTypeInfo JsonTypeInfo { get; }

    /// <summary>Whether the payload has a hand-written writer (<see cref="Write"/> uses it unless told otherwise).</summary>
    public abstract bool HasFastWriter { get; }

    /// <summary>Whether the payload has a hand-written check (<see cref="IsValid"/> uses it).</summary>
    public abstract bool HasFastCheck { get; }

    /// <summary>The payload's schema through its FluentValidation validator, which says why a payload fails.</summary>
    public abstract ValidationResult Validate(RealtimePayload payload);

    /// <summary><see cref="Validate"/>'s verdict: by the hand-written check where there is one, without allocating.</summary>
    public abstract bool IsValid(RealtimePayload payload);

    /// <summary>
    /// Writes the payload object: by its hand-written writer when <paramref name="fast"/> and there is one, else by the
    /// contract. The two write the same bytes (MessageKindsTests compares them on a payload with every property set).
    /// </summary>
    public abstract void Write(Utf8JsonWriter writer, RealtimePayload payload, bool fast = true);

    /// <summary>Adds the payload's validator to the envelope's polymorphic rule.</summary>
    internal abstract void AddTo(PolymorphicValidator<RealtimeMessage, RealtimePayload> payloadRule);
}

/// <summary>One message type's row, typed by its payload.</summary>
internal sealed class MessageKind<TPayload> : MessageKind
    where TPayload : RealtimePayload
{
    private readonly Func<TPayload, bool>? _fastCheck;
    private readonly Action<Utf8JsonWriter, TPayload>? _fastWriter;

    /// <param name="generated">
    /// The payload's info from the source-generated context: named here so that a payload without its
    /// <c>[JsonSerializable]</c> line fails to compile.
    /// </param>
    /// <param name="options">The options the contract is written with; <paramref name="generated"/> is resolved through them.</param>
    internal MessageKind(
        MessageType type,
        JsonTypeInfo<TPayload> generated,
        JsonSerializerOptions options,
        IValidator<TPayload> validator,
        bool droppable = false,
        Func<TPayload, bool>? fastCheck = null,
        Action<Utf8JsonWriter, TPayload>? fastWriter = null)
        : base(type, typeof(TPayload), droppable)
    {
        Json = (JsonTypeInfo<TPayload>)options.GetTypeInfo(generated.Type);
        Validator = validator;
        _fastCheck = fastCheck;
        _fastWriter = fastWriter;
    }

    public JsonTypeInfo<TPayload> Json { get; }

    public IValidator<TPayload> Validator { get; }

    public override JsonTypeInfo JsonTypeInfo => Json;

    public override bool HasFastWriter => _fastWriter is not null;

    public override bool HasFastCheck => _fastCheck is not null;

    public override ValidationResult Validate(RealtimePayload payload) => Validator.Validate((TPayload)payload);

    public override bool IsValid(RealtimePayload payload) =>
        _fastCheck is { } check ? check((TPayload)payload) : Validator.Validate((TPayload)payload).IsValid;

    public override void Write(Utf8JsonWriter writer, RealtimePayload payload, bool fast = true)
    {
        if (fast && _fastWriter is { } write)
        {
            write(writer, (TPayload)payload);
        }
        else
        {
            JsonSerializer.Serialize(writer, (TPayload)payload, Json);
        }
    }

    internal override void AddTo(PolymorphicValidator<RealtimeMessage, RealtimePayload> payloadRule) => payloadRule.Add(Validator);
}
