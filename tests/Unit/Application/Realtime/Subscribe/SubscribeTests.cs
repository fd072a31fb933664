using System.Text;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Jobs.GetJob;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Application.Realtime.Subscribe;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.UnitTests.Application.Execution;
using MediatR;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace CleanRealtime.UnitTests.Application.Realtime.Subscribe;

/// <summary>What a new subscriber receives (API.md §3.1, §3.8), decided once for WebSocket and SSE.</summary>
public sealed class SubscribeTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly IMediator _mediator = Substitute.For<IMediator>();
    private readonly IJobEventLog _log = Substitute.For<IJobEventLog>();
    private readonly JobStreams _streams;
    private readonly SubscribeHandler _handler;
    private readonly MessageSerializer _serializer = new();

    public SubscribeTests()
    {
        var options = Options.Create(new RealtimeOptions { PingInterval = TimeSpan.FromSeconds(15) });
        var clock = new FakeTimeProvider(At);
        var writer = new JobEventWriter(_log, options, clock, NullLogger<JobEventWriter>.Instance);
        var fanOut = Substitute.For<IRealtimeBroadcaster>();
        _streams = new JobStreams(_serializer, writer, fanOut, new NoSeqReservations(), options, NullLogger<JobStreams>.Instance);
        var remote = new RemoteJobStreams(_streams, _log, fanOut, options, clock, NullLogger<RemoteJobStreams>.Instance);
        var catalog = new PluginCatalog([TestPlugin.Echo("echo"), TestPlugin.Echo("other")]);
        var messages = new RealtimeMessages(clock, NullLogger<RealtimeMessages>.Instance);
        _handler = new SubscribeHandler(_mediator, catalog, new JobHistory(_streams, remote, writer, _log, messages, _serializer), remote, messages, _serializer, options);
    }

    [Fact]
    public async Task Subscribe_EveryJob_WelcomesEveryPluginThenAPing_WithoutSeq()
    {
        var plan = await _handler.Handle(new CleanRealtime.Application.Realtime.Subscribe.Subscribe(null), CancellationToken.None);

        Assert.Equal([MessageType.Metadata, MessageType.Metadata, MessageType.Ping], plan.Welcome.Select(m => m.Type));
        Assert.All(plan.Welcome, m => Assert.Null(m.Seq));
        Assert.Contains("\"interval_seconds\":15", Encoding.UTF8.GetString(plan.Welcome[^1].Json), StringComparison.Ordinal);
        Assert.Null(plan.ReplayAfter);
    }

    [Fact]
    public async Task Subscribe_RunningJobWithoutSince_ShowsTheLastPublishedProgressWithItsSeqAndBytes()
    {
        var job = Running(["echo"]);
        await _streams.PublishAsync(new RealtimeMessage(new ProgressPayload(job.Id, 0, "started"), At));
        await _streams.PublishAsync(new RealtimeMessage(new ProgressPayload(job.Id, 40, "analyzing"), At));
        await _streams.PublishAsync(new RealtimeMessage(new WarningPayload("echo", "dark", JobId: job.Id), At));

        var plan = await _handler.Handle(new(job.Id), CancellationToken.None);

        Assert.Equal([MessageType.Metadata, MessageType.Ping, MessageType.Progress], plan.Welcome.Select(m => m.Type));
        Assert.Equal(2, plan.Welcome[^1].Seq);
        Assert.True(_streams.TryGet(job.Id, out var stream));
        Assert.Same(stream.LastProgress!.Value.Json, plan.Welcome[^1].Json);
        Assert.Null(plan.ReplayAfter);
    }

    [Fact]
    public async Task Subscribe_QueuedJobWithoutSince_HasNoSnapshot()
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, ["echo"], At);
        _mediator.Send(Arg.Is<GetJob>(g => g.JobId == job.Id), Arg.Any<CancellationToken>()).Returns(job.ToMemento());

        var plan = await _handler.Handle(new(job.Id), CancellationToken.None);

        Assert.Equal([MessageType.Metadata, MessageType.Ping], plan.Welcome.Select(m => m.Type));
    }

    [Fact]
    public async Task Subscribe_SinceWithinWhatIsKept_ReplaysAfterIt()
    {
        var job = Running(["echo"]);
        _log.GetRangeAsync(job.Id, Arg.Any<CancellationToken>()).Returns(new JobEventRange(1, 30, true));

        var plan = await _handler.Handle(new(job.Id, "12"), CancellationToken.None);

        Assert.Equal(12, plan.ReplayAfter);
        Assert.Equal([MessageType.Metadata, MessageType.Ping], plan.Welcome.Select(m => m.Type));
    }

    [Fact]
    public async Task Subscribe_SinceOlderThanTheFirstKeptSeq_AnswersReplayUnavailableNamingItThenReplaysWhatIsKept()
    {
        var job = Running(["echo"]);
        _log.GetRangeAsync(job.Id, Arg.Any<CancellationToken>()).Returns(new JobEventRange(40, 40, true));

        var plan = await _handler.Handle(new(job.Id, "0"), CancellationToken.None);

        Assert.Equal(39, plan.ReplayAfter);
        var error = plan.Welcome[^1];
        Assert.Equal(MessageType.Error, error.Type);
        Assert.Null(error.Seq);
        var text = Encoding.UTF8.GetString(error.Json);
        Assert.Contains("\"error_code\":\"REPLAY_UNAVAILABLE\"", text, StringComparison.Ordinal);
        Assert.Contains("first kept is 40", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribe_UnknownJob_IsNotFound()
    {
        _mediator.Send(Arg.Any<GetJob>(), Arg.Any<CancellationToken>()).ThrowsAsync(new NotFoundException("no such job"));

        await Assert.ThrowsAsync<NotFoundException>(() => _handler.Handle(new(Guid.NewGuid(), "0"), CancellationToken.None));
    }

    [Theory]
    [InlineData(true, "-1")]
    [InlineData(true, "1e3")]
    [InlineData(true, " 5")]
    [InlineData(true, "")]
    [InlineData(false, "0")]
    public void Validator_InvalidSinceOrSinceWithoutJob_FailsOnSince(bool withJob, string since)
    {
        var result = new SubscribeValidator().Validate(new CleanRealtime.Application.Realtime.Subscribe.Subscribe(withJob ? Guid.NewGuid() : null, since));

        Assert.Contains(result.Errors, e => e.PropertyName == "since");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("9007199254740993")]
    public void Validator_SinceAnIntegerFromZeroWithAJob_IsValid(string since) =>
        Assert.True(new SubscribeValidator().Validate(new CleanRealtime.Application.Realtime.Subscribe.Subscribe(Guid.NewGuid(), since)).IsValid);

    private Job Running(IReadOnlyCollection<string> plugins)
    {
        var job = Job.Queue(Guid.NewGuid(), "synthetic:pitch", Device.Cpu, Device.Cpu, plugins, At);
        job.Start(At);
        _mediator.Send(Arg.Is<GetJob>(g => g.JobId == job.Id), Arg.Any<CancellationToken>()).Returns(job.ToMemento());
        return job;
    }
}
