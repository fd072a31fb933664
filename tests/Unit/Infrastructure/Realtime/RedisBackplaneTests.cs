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

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 1, 0, 2 })]
    [InlineData(new byte[] { 9, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0 })]
    [InlineData(new byte[] { 1, 0, 200, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0 })]
    [InlineData(new byte[] { 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 9 })]
    [InlineData(new byte[] { 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0 })]
    public void Decode_NotAJobMessage_IsRefused(byte[] bytes) => Assert.False(RedisLink.TryDecode((RedisValue)bytes, out _));

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
