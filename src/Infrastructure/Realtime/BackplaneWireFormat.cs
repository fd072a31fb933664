using System.Buffers.Binary;
using System.Text;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using StackExchange.Redis;

namespace CleanRealtime.Infrastructure.Realtime;

/// <summary>
/// How a <see cref="BackplaneMessage"/> travels through Redis, version 2: [2][flags: 1 = ends the job][type]
/// [seq: int64 BE][job id: 16][published at: UTC ticks, int64 BE][node id length: int16 BE][node id: UTF-8]
/// [the envelope's JSON bytes, as every subscriber receives them].
/// </summary>
/// <remarks>
/// A fixed binary header, so a receiving node routes a message by its job and <c>seq</c> without parsing the JSON, and
/// hands the envelope's bytes on untouched. Every node of a cluster must speak the same version: anything else (or
/// anything that is not a job message) is refused, never guessed at.
/// </remarks>
internal static class BackplaneWireFormat
{
    private const byte Version = 2;
    private const int HeaderLength = 1 + 1 + 1 + 8 + 16 + 8 + 2;

    public static byte[] Encode(BackplaneMessage message)
    {
        var node = Encoding.UTF8.GetBytes(message.NodeId);
        var bytes = new byte[HeaderLength + node.Length + message.Json.Length];
        var span = bytes.AsSpan();
        span[0] = Version;
        span[1] = message.EndsJob ? (byte)1 : (byte)0;
        span[2] = (byte)message.Type;
        BinaryPrimitives.WriteInt64BigEndian(span[3..], message.Seq);
        message.JobId.TryWriteBytes(span.Slice(11, 16));
        BinaryPrimitives.WriteInt64BigEndian(span[27..], message.PublishedAtUtcTicks);
        BinaryPrimitives.WriteInt16BigEndian(span[35..], checked((short)node.Length));
        node.CopyTo(span[HeaderLength..]);
        message.Json.CopyTo(span[(HeaderLength + node.Length)..]);
        return bytes;
    }

    public static bool TryDecode(RedisValue value, out BackplaneMessage message)
    {
        message = null!;
        var bytes = (byte[]?)value;
        if (bytes is null || bytes.Length < HeaderLength || bytes[0] != Version || !Enum.IsDefined((MessageType)bytes[2]))
        {
            return false;
        }

        var span = bytes.AsSpan();
        var nodeLength = BinaryPrimitives.ReadInt16BigEndian(span[35..]);
        if (nodeLength < 0 || HeaderLength + nodeLength > bytes.Length)
        {
            return false;
        }

        message = new BackplaneMessage(
            Encoding.UTF8.GetString(span.Slice(HeaderLength, nodeLength)), new Guid(span.Slice(11, 16)),
            BinaryPrimitives.ReadInt64BigEndian(span[3..]), (MessageType)bytes[2], (bytes[1] & 1) != 0,
            span[(HeaderLength + nodeLength)..].ToArray(), BinaryPrimitives.ReadInt64BigEndian(span[27..]));
        return message.Seq >= 1;
    }
}
