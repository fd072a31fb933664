namespace CleanRealtime.Domain.Realtime;

/// <summary>
/// The realtime message types (API.md §3.2). What each one carries, how it is written and checked, and whether it may be
/// dropped: one row per member in <c>Application/Realtime/MessageKinds.cs</c>, which lists what a new type touches.
/// </summary>
public enum MessageType
{
    Metadata,
    Progress,
    Frame,
    PartialResult,
    PluginStatus,
    Warning,
    Error,
    Ping,
    Pong,
}

public static class MessageTypeExtensions
{
    private static readonly Dictionary<string, MessageType> ByWireName =
        Enum.GetValues<MessageType>().ToDictionary(ToWire, StringComparer.Ordinal);

    // One switch over every member and no default arm: a member added without its name fails to compile (CS8509).
#pragma warning disable CS8524 // Values outside the named members are not types.
    public static string ToWire(this MessageType type) => type switch
    {
        MessageType.Metadata => "metadata",
        MessageType.Progress => "progress",
        MessageType.Frame => "frame",
        MessageType.PartialResult => "partial_result",
        MessageType.PluginStatus => "plugin_status",
        MessageType.Warning => "warning",
        MessageType.Error => "error",
        MessageType.Ping => "ping",
        MessageType.Pong => "pong",
    };
#pragma warning restore CS8524

    public static bool TryParseWire(string? value, out MessageType type) =>
        ByWireName.TryGetValue(value ?? string.Empty, out type);
}
