using System.Text.Json;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Bench.Serve;
using CleanRealtime.Bench.Wire;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;
using Microsoft.Extensions.Logging.Abstractions;

namespace CleanRealtime.Bench.Micro;

/// <summary>
/// What the server does once per published frame: check it (<see cref="RealtimeMessages.TryCreate"/>) and serialize it
/// (<see cref="MessageSerializer.Serialize"/>), against the bare baseline's hand-written Utf8JsonWriter envelope.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "BenchmarkDotNet's [GlobalCleanup] disposes it.")]
public class SerializationBenchmarks
{
    private MessageSerializer _serializer = null!;
    private RealtimeMessages _messages = null!;
    private BareEnvelope _bare = null!;
    private RealtimeMessage _frame = null!;
    private FramePayload _payload = null!;
    private string _frameId = null!;

    [GlobalSetup]
    public void Setup()
    {
        _serializer = new MessageSerializer();
        _messages = new RealtimeMessages(TimeProvider.System, NullLogger<RealtimeMessages>.Instance);
        _bare = new BareEnvelope(200);
        using var data = JsonDocument.Parse(BenchPayload.DataJson(0));
        _frameId = BenchFrameId.Format(1, 1, 1);
        _payload = new FramePayload(
            BenchPayload.JobId, _frameId, BenchPayload.Plugin, data.RootElement.Clone(), BenchPayload.TimingMs);
        _frame = new RealtimeMessage(_payload, DateTimeOffset.UtcNow);
    }

    [GlobalCleanup]
    public void Cleanup() => _bare.Dispose();

    [Benchmark(Baseline = true, Description = "bare Utf8JsonWriter envelope")]
    public byte[] BareEnvelope() => _bare.Write(_frameId);

    [Benchmark(Description = "MessageSerializer.Serialize(frame)")]
    public byte[] Serialize() => _serializer.Serialize(_frame);

    [Benchmark(Description = "RealtimeMessages.TryCreate(frame) (schema check)")]
    public bool TryCreate() => _messages.TryCreate(_payload, out _);
}

/// <summary>One message into a connection's queue and out again: the product's OutboundQueue against a bounded Channel.</summary>
[MemoryDiagnoser]
public class QueueBenchmarks
{
    private readonly byte[] _json = new byte[200];
    private OutboundQueue _queue = null!;
    private OutboundQueue _fullQueue = null!;
    private Channel<byte[]> _channel = null!;
    private OutboundMessage _message;

    [GlobalSetup]
    public void Setup()
    {
        _message = new OutboundMessage(MessageType.Frame, _json);
        _queue = new OutboundQueue(1000);
        _fullQueue = new OutboundQueue(1000);
        for (var i = 0; i < 1000; i++)
        {
            _fullQueue.Enqueue(_message);
        }

        _channel = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    }

    [Benchmark(Baseline = true, Description = "bounded Channel TryWrite+TryRead")]
    public bool BoundedChannel() => _channel.Writer.TryWrite(_json) && _channel.Reader.TryRead(out _);

    [Benchmark(Description = "OutboundQueue Enqueue+TryDequeue")]
    public bool Queue() => _queue.Enqueue(_message) == EnqueueOutcome.Enqueued && _queue.TryDequeue(out _);

    [Benchmark(Description = "OutboundQueue Enqueue when full (drops oldest frame)")]
    public EnqueueOutcome EnqueueFull() => _fullQueue.Enqueue(_message);
}
