using CleanRealtime.Application;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Jobs.CreateJob;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.UnitTests.Application.Execution;
using FluentValidation.Results;
using MediatR;
using Microsoft.Extensions.DependencyInjection;
using NSubstitute;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.UnitTests.Application.Jobs;

public sealed class CreateJobValidatorTests
{
    private static readonly IFramePlugin[] Registered = [.. Enumerable.Range(1, 20).Select(i => TestPlugin.Echo($"plugin_{i:D2}"))];

    private readonly IFrameSourceFactory _sources = Substitute.For<IFrameSourceFactory>();
    private readonly CreateJobValidator _validator;

    public CreateJobValidatorTests()
    {
        _sources.Validate(Arg.Any<string>()).Returns((string?)null);
        _validator = new CreateJobValidator(new PluginCatalog(Registered), _sources);
    }

    private static CreateJob Request(string? source = "synthetic:pitch?frames=10", string? device = null, IReadOnlyList<string>? plugins = null) =>
        new(source, device, plugins ?? ["plugin_01"]);

    private static string[] Names(int count) => [.. Enumerable.Range(1, count).Select(i => $"plugin_{i:D2}")];

    private ValidationResult Validate(CreateJob request) => _validator.Validate(request);

    private static ValidationFailure SingleFailureOn(ValidationResult result, string field)
    {
        Assert.False(result.IsValid);
        Assert.All(result.Errors, e => Assert.Equal(field, e.PropertyName));
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Validate_CompleteRequest_Passes()
    {
        var result = Validate(Request(device: "gpu", plugins: ["plugin_01", "plugin_07"]));

        Assert.True(result.IsValid, result.ToString());
        _sources.Received(1).Validate("synthetic:pitch?frames=10");
    }

    // ---- source ----

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Validate_SourceMissing_FailsKeyedSource(string? source)
    {
        var failure = SingleFailureOn(Validate(Request(source: source)), "source");

        Assert.Equal("'source' is required.", failure.ErrorMessage);
        _sources.DidNotReceive().Validate(Arg.Any<string>());
    }

    [Fact]
    public void Validate_SourceRefusedByTheFactory_FailsKeyedSourceWithItsReason()
    {
        _sources.Validate("../secrets.mp4").Returns("'source' must stay inside the media root.");

        var failure = SingleFailureOn(Validate(Request(source: "../secrets.mp4")), "source");

        Assert.Equal("'source' must stay inside the media root.", failure.ErrorMessage);
    }

    // ---- device_requested ----

    [Theory]
    [InlineData(null)]
    [InlineData("cpu")]
    [InlineData("gpu")]
    [InlineData("auto")]
    public void Validate_KnownOrNoDevice_Passes(string? device) =>
        Assert.True(Validate(Request(device: device)).IsValid);

    [Theory]
    [InlineData("tpu")]
    [InlineData("GPU")]
    [InlineData("")]
    [InlineData("cpu ")]
    public void Validate_UnknownDevice_FailsKeyedDeviceRequested(string device)
    {
        var failure = SingleFailureOn(Validate(Request(device: device)), "device_requested");

        Assert.Contains("cpu, gpu, auto", failure.ErrorMessage, StringComparison.Ordinal);
    }

    // ---- plugins ----

    [Fact]
    public void Validate_PluginsMissing_FailsKeyedPlugins()
    {
        var failure = SingleFailureOn(Validate(new CreateJob("synthetic:pitch", null, null)), "plugins");

        Assert.Equal("'plugins' is required.", failure.ErrorMessage);
    }

    [Fact]
    public void Validate_EmptyPluginList_FailsKeyedPlugins()
    {
        var failure = SingleFailureOn(Validate(Request(plugins: [])), "plugins");

        Assert.Contains("between 1 and 16", failure.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SixteenDistinctKnownPlugins_Passes() =>
        Assert.True(Validate(Request(plugins: Names(16))).IsValid);

    [Fact]
    public void Validate_SeventeenPlugins_FailsKeyedPlugins()
    {
        var failure = SingleFailureOn(Validate(Request(plugins: Names(17))), "plugins");

        Assert.Contains("between 1 and 16", failure.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DuplicatePlugins_FailsKeyedPlugins()
    {
        var failure = SingleFailureOn(Validate(Request(plugins: ["plugin_01", "plugin_02", "plugin_01"])), "plugins");

        Assert.Contains("must not repeat", failure.ErrorMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Validate_BlankPluginName_FailsKeyedPlugins(string name)
    {
        var failure = SingleFailureOn(Validate(Request(plugins: ["plugin_01", name])), "plugins");

        Assert.Contains("empty names", failure.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownPlugins_ListsEveryUnknownName()
    {
        var failure = SingleFailureOn(Validate(Request(plugins: ["plugin_01", "ghost_detection", "plugin_02", "Plugin_03"])), "plugins");

        var unknown = failure.ErrorMessage.Split('.')[0];
        Assert.Equal("Unknown plugins: 'ghost_detection', 'Plugin_03'", unknown);
        Assert.Contains("Registered: plugin_01, plugin_02", failure.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HugeAndManyUnknownPlugins_QuotesShortPrefixesOfTheFirstFive()
    {
        var names = Enumerable.Range(0, 8).Select(i => new string((char)('a' + i), 100_000)).ToList();

        var failure = SingleFailureOn(Validate(Request(plugins: names)), "plugins");

        Assert.True(failure.ErrorMessage.Length < 1000, failure.ErrorMessage);
        Assert.Contains($"'{new string('a', CreateJobValidator.MaxQuotedLength)}…' (100000 characters)", failure.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("and 3 more", failure.ErrorMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('f', 10), failure.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_EverythingWrong_ReportsEachFieldOnceBySnakeCaseName()
    {
        var result = Validate(new CreateJob(null, "quantum", null));

        Assert.False(result.IsValid);
        Assert.Equal(["device_requested", "plugins", "source"], result.Errors.Select(e => e.PropertyName).Order(StringComparer.Ordinal));
    }

    // ---- through the MediatR pipeline ----

    [Fact]
    public async Task Send_InvalidRequest_ThrowsOneValidationExceptionKeyedBySnakeCaseFieldAndStoresNothing()
    {
        var repository = Substitute.For<IJobRepository>();
        var queue = Substitute.For<IJobQueue>();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddApplication();
        services.AddSingleton(repository);
        services.AddSingleton(queue);
        services.AddSingleton(_sources);
        services.AddSingleton(Substitute.For<IDeviceProbe>());
        services.AddSingleton(Substitute.For<IRealtimeBroadcaster>());
        foreach (var plugin in Registered)
        {
            services.AddSingleton(plugin);
        }

        await using var provider = services.BuildServiceProvider();
        var mediator = provider.GetRequiredService<IMediator>();

        var ex = await Assert.ThrowsAsync<RequestValidationException>(() =>
            mediator.Send(new CreateJob("", "tpu", ["plugin_01", "nope", "nada"])));

        Assert.Equal(["device_requested", "plugins", "source"], ex.Errors.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("'nope', 'nada'", Assert.Single(ex.Errors["plugins"]), StringComparison.Ordinal);
        await repository.DidNotReceiveWithAnyArgs().AddAsync(default!, default, default);
        await queue.DidNotReceiveWithAnyArgs().EnqueueAsync(default, default);

        // And a valid one goes through to the handler.
        var job = await mediator.Send(new CreateJob("synthetic:pitch", null, ["plugin_02"]));
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(Device.Cpu, job.DeviceRequested);
        await repository.Received(1).AddAsync(Arg.Is<Job>(j => j.Id == job.Id), Arg.Any<string?>(), Arg.Any<CancellationToken>());
        await queue.Received(1).EnqueueAsync(job.Id, Arg.Any<CancellationToken>());
    }
}
