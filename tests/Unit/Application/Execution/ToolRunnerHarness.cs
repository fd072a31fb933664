using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Application.Realtime.Events;
using CleanRealtime.Application;
using CleanRealtime.Application.Common;
using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Media;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;
using CleanRealtime.UnitTests.Application.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.UnitTests.Application.Execution;

/// <summary>
/// A <see cref="ToolRunner"/> as <c>AddApplication()</c> wires it: the real job events (projection, then the MediatR
/// handlers: realtime relay), real <see cref="LiveJobs"/>, a real <see cref="PluginCatalog"/> of test plugins; only the
/// ports are substitutes. The queued <see cref="Job"/> the repository hands out
/// is the very aggregate the projection updates, so tests read the outcome from it.
/// </summary>
internal sealed class RunnerHarness : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly JobEventWriter _eventWriter;
    private readonly Task _eventWriting;

    private RunnerHarness(ServiceProvider services, Job job, IJobRepository repository, IFrameSourceFactory sources, RecordingLoggerProvider logs)
    {
        _services = services;
        Job = job;
        Repository = repository;
        Sources = sources;
        Logs = logs;
        LiveJobs = services.GetRequiredService<LiveJobs>();
        EventLog = services.GetRequiredService<IJobEventLog>();
        _eventWriter = services.GetRequiredService<JobEventWriter>();
        _eventWriting = _eventWriter.RunAsync(CancellationToken.None);
        Runner = services.GetRequiredService<ToolRunner>();
    }

    public Job Job { get; }

    public IJobRepository Repository { get; }

    public IFrameSourceFactory Sources { get; }

    public RecordingLoggerProvider Logs { get; }

    public LiveJobs LiveJobs { get; }

    /// <summary>The event log (a substitute) that the job's messages are written to, in batches.</summary>
    public IJobEventLog EventLog { get; }

    public ToolRunner Runner { get; }

    public IServiceProvider Services => _services;

    /// <param name="plugins">Registered plugins; the job asks for <paramref name="jobPlugins"/> (default: all of them, in order).</param>
    /// <param name="frames">How many frames the source yields.</param>
    /// <param name="broadcaster">Where realtime messages go (default: a <see cref="RecordingBroadcaster"/>, see <see cref="Published"/>).</param>
    /// <param name="configure">Last say over the container (e.g. a real RealtimeSessions as the broadcaster).</param>
    public static RunnerHarness Create(
        IReadOnlyList<IFramePlugin> plugins,
        int frames = 3,
        IReadOnlyList<string>? jobPlugins = null,
        bool frameCountKnown = true,
        TimeProvider? time = null,
        IRealtimeBroadcaster? broadcaster = null,
        Action<IServiceCollection>? configure = null,
        Device requested = Device.Cpu,
        Device used = Device.Cpu,
        JobsOptions? jobs = null,
        Func<IFrameSource>? source = null)
    {
        time ??= new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        jobs ??= new JobsOptions();
        var logs = new RecordingLoggerProvider();
        var job = Job.Queue(
            Guid.NewGuid(), "synthetic:test?frames=" + frames, requested, used, jobPlugins ?? [.. plugins.Select(p => p.Name)], time.GetUtcNow());

        var repository = Substitute.For<IJobRepository>();
        repository.FindAsync(job.Id, Arg.Any<CancellationToken>()).Returns(job);
        var sources = Substitute.For<IFrameSourceFactory>();
        sources.Open(Arg.Any<string>()).Returns(_ => source?.Invoke() ?? new FakeFrameSource(frames, frameCountKnown));
        var devices = Substitute.For<IDeviceProbe>();
        devices.IsAvailable(Device.Cpu).Returns(true);

        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton(time);
        services.AddSingleton(Options.Create(jobs));
        services.AddApplication();
        services.AddSingleton(repository);
        services.AddSingleton(Substitute.For<IJobQueue>());
        services.AddSingleton(Substitute.For<IJobEventLog>());
        services.AddSingleton(devices);
        services.AddSingleton(sources);
        services.AddSingleton(broadcaster ?? new RecordingBroadcaster());
        foreach (var plugin in plugins)
        {
            services.AddSingleton(plugin);
        }

        configure?.Invoke(services);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = false, ValidateScopes = true });
        return new RunnerHarness(provider, job, repository, sources, logs);
    }

    /// <summary>What the default <see cref="RecordingBroadcaster"/> received (empty when another broadcaster is used).</summary>
    public RecordingBroadcaster Published => _services.GetService<IRealtimeBroadcaster>() as RecordingBroadcaster ?? new RecordingBroadcaster();

    /// <summary>Runs the job to its end; a runner that hangs fails the test instead of hanging it.</summary>
    public Task RunAsync(CancellationToken stoppingToken = default) =>
        Runner.RunAsync(Job.Id, stoppingToken).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);

    /// <summary>
    /// Registers the real realtime edge (store, fan-out, sessions) as the broadcaster, everything it publishes also recorded
    /// in <paramref name="published"/>.
    /// </summary>
    public static void UseConnectionManager(IServiceCollection services, RecordingBroadcaster published, RealtimeOptions? options = null)
    {
        services.AddSingleton(Options.Create(options ?? new RealtimeOptions()));
        services.AddSingleton<ConnectionStore>();
        services.AddSingleton<LocalFanOut>();
        services.AddSingleton<RealtimeSessions>();
        services.AddSingleton<IRealtimeBroadcaster>(sp => new TeeBroadcaster(published, sp.GetRequiredService<LocalFanOut>()));
    }

    public void Dispose()
    {
        _eventWriter.Complete();
        _eventWriting.Wait(TimeSpan.FromSeconds(5));
        _services.Dispose();
    }
}

/// <summary>Keeps every message handed to it, in order.</summary>
internal sealed class RecordingBroadcaster : IRealtimeBroadcaster
{
    private readonly ConcurrentQueue<RealtimeMessage> _messages = new();

    public IReadOnlyList<RealtimeMessage> Messages => [.. _messages];

    public IReadOnlyList<RealtimePayload> Payloads => [.. _messages.Select(m => m.Payload)];

    public IReadOnlyList<T> Of<T>()
        where T : RealtimePayload => [.. _messages.Select(m => m.Payload).OfType<T>()];

    public void Publish(PublishedMessage message) => _messages.Enqueue(message.Message);

    public void Deliver(Guid jobId, OutboundMessage message) =>
        throw new InvalidOperationException("A runner's messages are published, never delivered from another node.");

    public bool HasSubscribers(Guid? jobId) => true;
}

/// <summary>Records a message, then hands it on.</summary>
internal sealed class TeeBroadcaster(IRealtimeBroadcaster first, IRealtimeBroadcaster second) : IRealtimeBroadcaster
{
    public void Publish(PublishedMessage message)
    {
        first.Publish(message);
        second.Publish(message);
    }

    public void Deliver(Guid jobId, OutboundMessage message)
    {
        first.Deliver(jobId, message);
        second.Deliver(jobId, message);
    }

    public bool HasSubscribers(Guid? jobId) => first.HasSubscribers(jobId) || second.HasSubscribers(jobId);
}

/// <summary>
/// A realtime client as the RealtimeSessions sees it: records the bytes its writer sends. With <c>block</c>, every send
/// waits until the connection is torn down (a client that never reads).
/// </summary>
internal sealed class RecordingTransport(bool block = false) : IRealtimeTransport
{
    private readonly Lock _gate = new();
    private readonly List<byte[]> _sent = [];
    private readonly TaskCompletionSource _firstSendStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private (int Count, TaskCompletionSource Done)? _waiter;
    private int _sendCalls;

    public string Kind => "websocket";

    public bool SupportsPong => false;

    public int SendCalls => Volatile.Read(ref _sendCalls);

    public IReadOnlyList<byte[]> Sent
    {
        get
        {
            lock (_gate)
            {
                return [.. _sent];
            }
        }
    }

    public Task FirstSendStarted => _firstSendStarted.Task;

    public async ValueTask SendAsync(OutboundMessage message, bool more, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _sendCalls);
        _firstSendStarted.TrySetResult();
        if (block)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        TaskCompletionSource? done = null;
        lock (_gate)
        {
            _sent.Add(message.Json);
            if (_waiter is { } waiter && _sent.Count >= waiter.Count)
            {
                done = waiter.Done;
                _waiter = null;
            }
        }

        done?.TrySetResult();
    }

    /// <summary>Completes once <paramref name="count"/> messages have been sent.</summary>
    public Task WhenSentAsync(int count)
    {
        lock (_gate)
        {
            if (_sent.Count >= count)
            {
                return Task.CompletedTask;
            }

            _waiter = (count, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            return _waiter.Value.Done.Task;
        }
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public Task CloseAsync(int code, string reason, CancellationToken cancellationToken) => Task.CompletedTask;

    public void Abort()
    {
    }
}

/// <summary>A frame source of <c>count</c> small black frames; optionally throws instead of yielding one of them.</summary>
internal sealed class FakeFrameSource(int count, bool countKnown = true, int failAt = 0, Func<Exception>? failure = null) : IFrameSource
{
    public int? FrameCount => countKnown ? count : null;

    public double Fps => 0;

    public bool Disposed { get; private set; }

    public async IAsyncEnumerable<VideoFrame> ReadFramesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var index = 1; index <= count; index++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (index == failAt && failure is not null)
            {
                throw failure();
            }

            await Task.CompletedTask;
            yield return new VideoFrame(index, Math.Round(index * 40.0, 1), new OpenCvSharp.Mat(8, 8, OpenCvSharp.MatType.CV_8UC3, OpenCvSharp.Scalar.All(0)));
        }
    }

    public void Dispose() => Disposed = true;
}

/// <summary>A frame source of <c>count</c> small frames that keeps every frame it yields, to check they are all disposed.</summary>
internal sealed class TrackingFrameSource(int count, bool countKnown = true) : IFrameSource
{
    private readonly ConcurrentQueue<VideoFrame> _yielded = new();

    public int? FrameCount => countKnown ? count : null;

    public double Fps => 0;

    public IReadOnlyList<VideoFrame> Yielded => [.. _yielded];

    public async IAsyncEnumerable<VideoFrame> ReadFramesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var index = 1; index <= count; index++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            var frame = new VideoFrame(index, index * 40.0, new OpenCvSharp.Mat(8, 8, OpenCvSharp.MatType.CV_8UC3, OpenCvSharp.Scalar.All(0)));
            _yielded.Enqueue(frame);
            yield return frame;
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>The result of the test plugins: snake_case on the wire (<c>frame_index</c>, <c>width</c>).</summary>
internal sealed record EchoResult(int FrameIndex, int Width);

/// <summary>A plugin whose per-frame behaviour is a delegate; counts the sessions it opens and that are disposed.</summary>
internal sealed class TestPlugin(string name, Func<VideoFrame, PluginFrameContext, object> analyze) : IFramePlugin
{
    private int _opened;
    private int _disposed;
    private int _overlaps;

    public string Name => name;

    public PluginMetadata Metadata { get; init; } = new("1.0.0", $"{name} test model", [8, 8, 3], "{ frame_index, width }", 0.5, ["test"]);

    /// <summary>What the plugin declares (<see cref="PluginConcurrency.Sequential"/> unless set).</summary>
    public PluginConcurrency Concurrency { get; init; } = PluginConcurrency.Sequential;

    public int SessionsOpened => Volatile.Read(ref _opened);

    /// <summary>How often a session was entered while another thread was still inside it (must stay 0).</summary>
    public int SessionOverlaps => Volatile.Read(ref _overlaps);

    public int SessionsDisposed => Volatile.Read(ref _disposed);

    public PluginSessionOptions? LastOptions { get; private set; }

    public static TestPlugin Echo(string name) => new(name, (frame, _) => new EchoResult(frame.Index, frame.Image.Width));

    /// <summary>Returns its result and raises <paramref name="message"/> on every frame.</summary>
    public static TestPlugin Warning(string name, string message, CleanRealtime.Plugins.Sdk.WarningSeverity severity = CleanRealtime.Plugins.Sdk.WarningSeverity.High) =>
        new(name, (frame, context) =>
        {
            context.Warn(message, severity);
            return new EchoResult(frame.Index, frame.Image.Width);
        });

    /// <summary>Throws on frame <paramref name="fromIndex"/> (and would on every later one).</summary>
    public static TestPlugin Crashing(string name, int fromIndex, Func<VideoFrame, Exception>? exception = null) =>
        new(name, (frame, _) => frame.Index >= fromIndex
            ? throw (exception?.Invoke(frame) ?? new InvalidOperationException($"boom on {frame.FrameId}"))
            : new EchoResult(frame.Index, frame.Image.Width));

    /// <summary>Takes <paramref name="perFrame"/> of fake time on each frame.</summary>
    public static TestPlugin Slow(string name, FakeTimeProvider clock, TimeSpan perFrame) =>
        new(name, (frame, _) =>
        {
            clock.Advance(perFrame);
            return new EchoResult(frame.Index, frame.Image.Width);
        });

    public IPluginSession OpenSession(PluginSessionOptions options)
    {
        LastOptions = options;
        Interlocked.Increment(ref _opened);
        return new Session(this);
    }

    private sealed class Session(TestPlugin owner) : IPluginSession
    {
        private int _inside;

        public object Analyze(VideoFrame frame, PluginFrameContext context)
        {
            if (Interlocked.Exchange(ref _inside, 1) == 1)
            {
                Interlocked.Increment(ref owner._overlaps);
            }

            try
            {
                return owner.Analyze(frame, context);
            }
            finally
            {
                Volatile.Write(ref _inside, 0);
            }
        }

        public void Dispose() => Interlocked.Increment(ref owner._disposed);
    }

    private object Analyze(VideoFrame frame, PluginFrameContext context) => analyze(frame, context);
}
