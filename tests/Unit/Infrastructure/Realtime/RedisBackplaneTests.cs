using CleanRealtime.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CleanRealtime.UnitTests.Infrastructure.Realtime;

/// <summary>The backplane's configuration: a Redis backplane that lacks what it needs refuses to start.</summary>
public sealed class RedisBackplaneTests
{
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
