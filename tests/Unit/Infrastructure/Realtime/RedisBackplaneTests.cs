using System.Text;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Infrastructure;
using CleanRealtime.Infrastructure.Realtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CleanRealtime.UnitTests.Infrastructure.Realtime;

/// <summary>The backplane's wire format and its configuration (API.md §5).</summary>
public sealed class RedisBackplaneTests
{
    [Fact]
    public void Encode_ThenDecode_GivesBackEveryFieldAndTheSameBytes()
    {
        var json = Encoding.UTF8.GetBytes("{\"type\":\"progress\",\"payload\":{\"progress\":100,\"stage\":\"completed\"},\"seq\":42}");
        var sent = new BackplaneMessage("host:123:ab12cd34", Guid.NewGuid(), 42, MessageType.Progress, EndsJob: true, json);

        Assert.True(RedisLink.TryDecode(RedisLink.Encode(sent), out var received));

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
        Assert.True(RedisLink.TryDecode((RedisValue)Header(), out _), "the well-formed header these cases start from decodes");
        Assert.False(RedisLink.TryDecode((RedisValue)bytes, out _), what);
    }

    [Fact]
    public void Encode_CarriesThePublicationTime()
    {
        var published = new DateTimeOffset(2026, 12, 2, 14, 0, 0, TimeSpan.Zero).UtcTicks + 1234567;
        var sent = new BackplaneMessage("n", Guid.NewGuid(), 1, MessageType.Frame, EndsJob: false, "{}"u8.ToArray(), published);

        Assert.True(RedisLink.TryDecode(RedisLink.Encode(sent), out var received));

        Assert.Equal(published, received.PublishedAtUtcTicks);
    }

    [Fact]
    public void PublishArguments_BatchOfTwoJobs_RaisesEachJobsKeyToItsHighestSeqThenCarriesTheMessagesInOrderWithTheirJobs()
    {
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        BackplaneMessage[] batch =
        [
            new("n", first, 7, MessageType.Frame, false, "{}"u8.ToArray()),
            new("n", second, 3, MessageType.Frame, false, "{}"u8.ToArray()),
            new("n", first, 8, MessageType.Progress, true, "{}"u8.ToArray()),
        ];

        var (keys, values) = RedisLink.PublishArguments(batch);

        Assert.Equal([RedisLink.LastSeqKey(first), RedisLink.LastSeqKey(second), RedisLink.ClosedKey(first), RedisLink.ClosedKey(second)], keys);
        Assert.Equal("cleanrealtime:job-messages", (string?)values[0]);
        Assert.Equal((long)RedisLink.LastSeqKeyLifetime.TotalMilliseconds, (long)values[1]);
        Assert.Equal([8L, 3L], values[2..4].Select(v => (long)v));
        Assert.Equal([1L, 2L, 1L], values[4..].Where((_, i) => i % 2 == 0).Select(v => (long)v));
        Assert.Equal(batch.Select(m => m.Seq), values[4..].Where((_, i) => i % 2 == 1).Select(v => RedisLink.TryDecode(v, out var m) ? m.Seq : -1));
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

    [Theory]
    [InlineData("sqlite", "127.0.0.1:6379", "Storage:Provider=postgres")]
    [InlineData("postgres", null, "ConnectionStrings:Redis")]
    public void AddInfrastructure_RedisBackplaneMissingWhatItNeeds_RefusesToStart(string storage, string? redis, string named)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = storage, ["ConnectionStrings:Jobs"] = storage == "postgres" ? "Host=localhost" : "Data Source=:memory:",
            ["Realtime:Backplane"] = "redis", ["ConnectionStrings:Redis"] = redis,
        }).Build();

        var refused = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddInfrastructure(configuration));

        Assert.Contains(named, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddInfrastructure_UnknownBackplane_RefusesToStart()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Realtime:Backplane"] = "kafka",
        }).Build();

        var refused = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddInfrastructure(configuration));

        Assert.Contains("'none' or 'redis'", refused.Message, StringComparison.Ordinal);
    }
}
