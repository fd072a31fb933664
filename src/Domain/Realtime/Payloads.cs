using System.Text.Json;

namespace CleanRealtime.Domain.Realtime;

/// <summary>The payload of one realtime message; its concrete type fixes the message type.</summary>
public abstract record RealtimePayload
{
    public abstract MessageType Type { get; }

    /// <summary>The job this message is about, if any: what a <c>job_id</c> subscription filters on.</summary>
    public abstract Guid? RoutingJobId { get; }
}

/// <summary>What a plugin says about itself: the <c>metadata</c> message, and <c>GET /v1/plugins</c>.</summary>
public sealed record PluginDescription(
    string Version,
    string Model,
    IReadOnlyList<int?> InputShape,
    string OutputFormat,
    double ConfidenceDefault,
    IReadOnlyList<string> Capabilities);

public sealed record MetadataPayload(string Plugin, PluginDescription Metadata) : RealtimePayload
{
    public override MessageType Type => MessageType.Metadata;
    public override Guid? RoutingJobId => null;
}

public sealed record ProgressPayload(Guid JobId, int Progress, string? Stage = null, string? Plugin = null) : RealtimePayload
{
    public override MessageType Type => MessageType.Progress;
    public override Guid? RoutingJobId => JobId;
}

public sealed record FramePayload(Guid JobId, string FrameId, string Plugin, JsonElement Data, double TimingMs, string? DeviceUsed = null)
    : RealtimePayload
{
    public override MessageType Type => MessageType.Frame;
    public override Guid? RoutingJobId => JobId;
}

public sealed record PartialResultPayload(string Plugin, JsonElement Result, bool Partial = true, Guid? JobId = null) : RealtimePayload
{
    public override MessageType Type => MessageType.PartialResult;
    public override Guid? RoutingJobId => JobId;
}

public sealed record PluginStatusPayload(
    string Plugin,
    PluginRunStatus Status,
    double TimingMs,
    Guid? JobId = null,
    int? FramesProcessed = null,
    int? WarningsCount = null) : RealtimePayload
{
    public override MessageType Type => MessageType.PluginStatus;
    public override Guid? RoutingJobId => JobId;
}

public sealed record WarningPayload(string Plugin, string Message, WarningSeverity? Severity = null, string? FrameId = null, Guid? JobId = null)
    : RealtimePayload
{
    public override MessageType Type => MessageType.Warning;
    public override Guid? RoutingJobId => JobId;
}

public sealed record ErrorDetails(string ErrorCode, string Message, bool? Fallback = null);

public sealed record ErrorPayload(string Error, string? Plugin = null, Guid? JobId = null, string? FrameId = null, ErrorDetails? Details = null)
    : RealtimePayload
{
    public override MessageType Type => MessageType.Error;
    public override Guid? RoutingJobId => JobId;
}

public sealed record PingPayload(int? IntervalSeconds = null) : RealtimePayload
{
    public override MessageType Type => MessageType.Ping;
    public override Guid? RoutingJobId => null;
}

/// <summary>The client's answer to a ping; <see cref="Timestamp"/> is the client's clock, as it sent it.</summary>
public sealed record PongPayload(string Timestamp) : RealtimePayload
{
    public override MessageType Type => MessageType.Pong;
    public override Guid? RoutingJobId => null;
}
