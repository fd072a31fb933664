using System.Net;

namespace CleanRealtime.IntegrationTests.Reliability;

/// <summary>
/// The server as an operator starts it from some other directory (scripts, systemd, a container's WORKDIR): it must read
/// the appsettings.json beside its assembly, whatever the working directory is.
/// </summary>
public sealed class ContentRootTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cleanrealtime-tests", Guid.NewGuid().ToString("N"));

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task StartedFromAnotherDirectory_ReadsItsAppsettings_SoNoSqlCommandIsLoggedAtInformation()
    {
        Assert.False(File.Exists(Path.Combine(_root, "appsettings.json")));

        // Information by default (as appsettings.json says, and as the framework does without it): the test sees the
        // server's Information lines, and only appsettings.json's "Microsoft.EntityFrameworkCore": "Warning" hides SQL.
        await using var server = await ServerProcess.StartAsync(_root, "--Logging:LogLevel:Default=Information");
        using (var listed = await server.Http.GetAsync("/v1/jobs"))
        {
            Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        }

        // The request's own log line comes after the SQL it ran: once it is out, so is any SQL logged for it.
        await CleanRealtime.IntegrationTests.Infrastructure.ServerFixture.WaitUntilAsync(
            () => Task.FromResult(server.Output.Any(line => line.Contains("HTTP GET /v1/jobs answered 200", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(10), "the request was logged");
        var output = server.Output;
        Assert.Contains(output, line => line.Contains("Application started", StringComparison.Ordinal));
        Assert.DoesNotContain(output, line => line.Contains("Executed DbCommand", StringComparison.Ordinal));
        Assert.DoesNotContain(output, line => line.Contains("Microsoft.EntityFrameworkCore", StringComparison.Ordinal));
    }
}
