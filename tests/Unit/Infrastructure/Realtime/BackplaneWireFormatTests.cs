using System.Text;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure.Realtime;
using StackExchange.Redis;

namespace CleanRealtime.UnitTests.Infrastructure.Realtime;

/// <summary>The backplane's wire format (API.md §5): what one node sends is what another decodes, and nothing else decodes.</summary>
public sealed class BackplaneWireFormatTests
{
    [Fact]
    public void Encode_ThenDecode_GivesBackEveryFieldAndTheSameBytes()
    {
        var json = Encoding.UTF8.GetBytes("{\"type\":\"progress\",\"payload\":{\"progress\":100,\"stage\":\"completed\"},\"seq\":42}");
        var sent = new BackplaneMessage("host:123:ab12cd34", Guid.NewGuid(), 42, MessageType.Progress, EndsJob: true, json);

        Assert.True(BackplaneWireFormat.TryDecode(BackplaneWireFormat.Encode(sent), out var received));

        Assert.Equal((sent.NodeId, sent.JobId, sent.Seq, sent.Type, sent.EndsJob), (received.NodeId, received.JobId, received.Seq, received.Type, received.EndsJob));
        Assert.Equal(json, received.Json);
    }

    public static TheoryData<string, byte[]> NotJobMessages => new()
    {
        { "empty", [] },
        { "shorter than the header", [2, 0, 2] },
        { "another version", Header(version: 9) },
        { "an unknown message type", Header(type: 200) },
        { "a node id longer than the message", Header(nodeLength: 9) },
        { "seq 0", Header(seq: 0) },
    };

    [Theory]
    [MemberData(nameof(NotJobMessages))]
    public void Decode_NotAJobMessage_IsRefused(string what, byte[] bytes)
    {
        Assert.True(BackplaneWireFormat.TryDecode((RedisValue)Header(), out _), "the well-formed header these cases start from decodes");
        Assert.False(BackplaneWireFormat.TryDecode((RedisValue)bytes, out _), what);
    }

    [Fact]
    public void Encode_CarriesThePublicationTime()
    {
        var published = new DateTimeOffset(2026, 12, 2, 14, 0, 0, TimeSpan.Zero).UtcTicks + 1234567;
        var sent = new BackplaneMessage("n", Guid.NewGuid(), 1, MessageType.Frame, EndsJob: false, "{}"u8.ToArray(), published);

        Assert.True(BackplaneWireFormat.TryDecode(BackplaneWireFormat.Encode(sent), out var received));

        Assert.Equal(published, received.PublishedAtUtcTicks);
    }

    /// <summary>A version-2 header with an empty node id and no JSON: [version][flags][type][seq][job id][published at][node id length].</summary>
    private static byte[] Header(byte version = 2, byte type = 2, long seq = 1, short nodeLength = 0)
    {
        var bytes = new byte[37];
        bytes[0] = version;
        bytes[2] = type;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(3), seq);
        Guid.NewGuid().TryWriteBytes(bytes.AsSpan(11, 16));
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(27), 638_000_000_000_000_000);
        System.Buffers.Binary.BinaryPrimitives.WriteInt16BigEndian(bytes.AsSpan(35), nodeLength);
        return bytes;
    }
}
