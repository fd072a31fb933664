namespace CleanRealtime.Domain.Realtime;

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
    private static readonly string[] WireNames =
        ["metadata", "progress", "frame", "partial_result", "plugin_status", "warning", "error", "ping", "pong"];

    public static string ToWire(this MessageType type) => WireNames[(int)type];

    public static bool TryParseWire(string? value, out MessageType type)
    {
        var index = Array.IndexOf(WireNames, value);
        type = (MessageType)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>Per-frame data that a slow consumer may lose; everything else must arrive or the connection closes.</summary>
    public static bool IsDroppable(this MessageType type) => type is MessageType.Frame or MessageType.PartialResult;
}
