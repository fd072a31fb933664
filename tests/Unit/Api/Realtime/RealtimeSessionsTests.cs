using System.Net.WebSockets;
using CleanRealtime.Application.Realtime;
using CleanRealtime.Domain.Realtime;
using CleanRealtime.Api.Realtime;
using CleanRealtime.UnitTests.TestSupport;
using static CleanRealtime.UnitTests.Api.Realtime.TestPayloads;

namespace CleanRealtime.UnitTests.Api.Realtime;

/// <summary>BACKEND_TEST_MATRIX §2 and the rest of <see cref="RealtimeSessions"/>, over real in-memory WebSockets.</summary>
public sealed class RealtimeSessionsTests
{
    private static readonly TimeSpan Bound = Eventually.DefaultTimeout;

    // ---- §2.1 lifecycle -------------------------------------------------------------------------------------

    [Fact]
    public async Task ConnectionManagerAddConnection()
    {
        await using var harness = new RealtimeHarness();
        var job = Guid.NewGuid();
        var session = Guid.NewGuid();
        var pair = WebSocketPair.Create();

        var registration = harness.Manager.TryAdd(new WebSocketTransport(pair.Server, pair.ServerStream), job, session);

        var connection = Assert.IsType<Connection>(registration.Connection);
        Assert.Equal(0, registration.RefusalCode);
        Assert.Null(registration.RefusalReason);
        Assert.Equal(1, harness.Manager.Count);
        Assert.Same(connection, Assert.Single(harness.Manager.Connections));
        Assert.Equal(job, connection.JobId);
        Assert.Equal(session, connection.SessionId);
        Assert.Equal("websocket", connection.Kind);
        Assert.Equal(RealtimeHarness.Epoch, connection.ConnectedAt);

        // Registered means live: its writer delivers what is published for its job.
        harness.Publish(Progress(job, 5));
        var client = new TestClient(pair, connection, Task.CompletedTask);
        Assert.Equal("progress:5", (await client.ReceiveAsync()).Key);
        connection.Abort("test finished");
        pair.Dispose();
    }

    [Fact]
    public async Task ConnectionManagerHasConnection()
    {
        await using var harness = new RealtimeHarness();

        var client = harness.Connect();

        Assert.True(harness.IsConnected(client.Connection.Id));
        Assert.False(harness.IsConnected(Guid.NewGuid()));
    }

    [Fact]
    public async Task ConnectionManagerRemoveConnection()
    {
        await using var harness = new RealtimeHarness();
        var session = Guid.NewGuid();
        var client = harness.Connect(sessionId: session);
        var id = client.Connection.Id;

        // The client leaves: the server completes the handshake and deregisters the connection.
        using (var deadline = new CancellationTokenSource(Bound))
        {
            await client.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "leaving", deadline.Token);
        }

        await client.Connection.Completion.WaitAsync(Bound);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.Socket.CloseStatus);
        Assert.Equal(WebSocketState.Closed, client.Socket.State);
        Assert.False(harness.IsConnected(id));
        Assert.Equal(0, harness.Manager.Count);
        Assert.Empty(harness.Manager.Connections);
        Assert.Equal(1000, client.Connection.CloseCode);

        // Nothing refers to it any more: publishing is harmless and the session's slot is free again.
        harness.Publish(Progress(Guid.NewGuid(), 1));
        harness.Publish(new PingPayload(30));
        for (var i = 0; i < harness.Options.MaxConnectionsPerSession; i++)
        {
            harness.Connect(sessionId: session);
        }
    }

    [Fact]
    public async Task ConnectionManagerMultipleConnections()
    {
        await using var harness = new RealtimeHarness();
        var jobs = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        var clients = jobs.Select(job => harness.Connect(jobId: job)).ToArray();

        Assert.Equal(5, harness.Manager.Count);
        Assert.Equal(5, clients.Select(c => c.Connection.Id).Distinct().Count());
        Assert.Equal(
            clients.Select(c => c.Connection.Id).Order(),
            harness.Manager.Connections.Select(c => c.Id).Order());
        Assert.All(clients, c => Assert.True(harness.IsConnected(c.Connection.Id)));

        // Tracked separately: each gets its own job's message, and ending one leaves the others untouched.
        for (var i = 0; i < 5; i++)
        {
            harness.Publish(Progress(jobs[i], i));
        }

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal($"progress:{i}", (await clients[i].ReceiveAsync()).Key);
        }

        clients[2].Connection.RequestClose(1000, "done", drain: true);
        await clients[2].Connection.Completion.WaitAsync(Bound);

        Assert.Equal(4, harness.Manager.Count);
        Assert.False(harness.IsConnected(clients[2].Connection.Id));
        Assert.All(clients.Where((_, i) => i != 2), c => Assert.True(harness.IsConnected(c.Connection.Id)));
        harness.Publish(Progress(jobs[4], 44));
        Assert.Equal("progress:44", (await clients[4].ReceiveAsync()).Key);
    }

    // ---- §2.2 broadcast -------------------------------------------------------------------------------------

    [Fact]
    public async Task ConnectionManagerBroadcastOneClient()
    {
        await using var harness = new RealtimeHarness();
        var client = harness.Connect();
        var job = Guid.NewGuid();

        harness.Publish(new WarningPayload("ocr", "low light", WarningSeverity.High, "7", job));

        var received = await client.ReceiveAsync();
        Assert.Equal("warning", received.Type);
        Assert.Equal("ocr", received.Payload.GetProperty("plugin").GetString());
        Assert.Equal("low light", received.Payload.GetProperty("message").GetString());
        Assert.Equal("high", received.Payload.GetProperty("severity").GetString());
        Assert.Equal(job, received.Payload.GetProperty("job_id").GetGuid());
        Assert.Equal(MessageSerializer.FormatTimestamp(RealtimeHarness.Epoch), received.Timestamp);
        Assert.Equal(1, client.Connection.Sent);
    }

    [Fact]
    public async Task ConnectionManagerBroadcastMultipleClients()
    {
        await using var harness = new RealtimeHarness();
        var clients = Enumerable.Range(0, 6).Select(_ => harness.Connect()).ToArray();
        var job = Guid.NewGuid();

        harness.Publish(Progress(job, 10));
        harness.Publish(Frame(job, 1));
        harness.Publish(new PingPayload(30));

        var received = await Task.WhenAll(clients.Select(c => c.ReceiveAsync(3)));
        Assert.All(received, messages => Assert.Equal(["progress:10", "frame:1", "ping"], messages.Select(m => m.Key)));

        // The same serialized text reaches every client.
        Assert.All(received, messages => Assert.Equal(received[0].Select(m => m.Raw), messages.Select(m => m.Raw)));
    }

    [Fact]
    public async Task ConnectionManagerBroadcastNoClients()
    {
        await using var harness = new RealtimeHarness();
        var job = Guid.NewGuid();

        var publishing = Record.Exception(() =>
        {
            harness.Publish(Progress(job, 1));
            harness.Publish(Frame(job, 1));
            harness.Publish(new PingPayload(30));
        });

        Assert.Null(publishing);
        Assert.Equal(0, harness.Manager.Count);

        // Nothing was kept for later: a client connecting now gets only what is published from now on.
        var client = harness.Connect(jobId: job);
        harness.Publish(Progress(job, 2));
        Assert.Equal("progress:2", (await client.ReceiveAsync()).Key);
    }

    [Fact]
    public async Task ConnectionManagerBroadcastPartialFailure()
    {
        await using var harness = new RealtimeHarness();
        var job = Guid.NewGuid();
        var healthy = Enumerable.Range(0, 5).Select(_ => harness.Connect(jobId: job)).ToArray();
        var broken = harness.Connect(jobId: job, clientReceiveWindow: 1);

        // The broken client's writer is in the middle of a send when its network goes away: the first message fills its
        // window, and the writer waits in sending the next ones.
        harness.Publish(Status(job, 0));
        await Eventually.TrueAsync(() => broken.Connection.Sent == 1, "the first message went out");
        for (var i = 1; i < 20; i++)
        {
            harness.Publish(Status(job, i));
        }

        await broken.Pair.ServerSendBlocked.WaitAsync(Bound);
        broken.Pair.Break();

        for (var i = 20; i < 40; i++)
        {
            harness.Publish(Status(job, i));
        }

        await broken.Connection.Completion.WaitAsync(Bound);
        Assert.False(harness.IsConnected(broken.Connection.Id));
        Assert.Null(broken.Connection.CloseCode);
        Assert.Equal(5, harness.Manager.Count);
        Assert.DoesNotContain(broken.Connection, harness.Manager.Connections);

        var expected = Enumerable.Range(0, 40).Select(i => $"plugin_status:{i}").ToArray();
        var received = await Task.WhenAll(healthy.Select(c => c.ReceiveAsync(40)));
        Assert.All(received, messages => Assert.Equal(expected, messages.Select(m => m.Key)));
        Assert.All(healthy, c => Assert.True(harness.IsConnected(c.Connection.Id)));
    }

    // ---- §2.3 queuing ---------------------------------------------------------------------------------------

    [Fact]
    public async Task ConnectionManagerQueueMessages()
    {
        await using var harness = new RealtimeHarness();
        var job = Guid.NewGuid();
        var client = harness.Connect(jobId: job, clientReceiveWindow: 1);
        var keys = new List<string>();

        // Make the writer wait on the client (the first message fills its window, the writer waits in sending the
        // second), then publish a burst: publishing never waits, everything is queued.
        keys.Add("progress:0");
        harness.Publish(Progress(job, 0));
        await Eventually.TrueAsync(() => client.Connection.Sent == 1, "the first message went out");
        keys.Add("progress:1");
        harness.Publish(Progress(job, 1));
        await client.Pair.ServerSendBlocked.WaitAsync(Bound);
        var waiting = InFlightAndQueued(client.Connection, keys.Count);

        for (var i = 0; i < 500; i++)
        {
            keys.Add($"frame:{i}");
            harness.Publish(Frame(job, i));
        }

        Assert.Equal(waiting.Queued + 500, client.Connection.QueueDepth);
        Assert.Equal(0, client.Connection.Dropped);

        var received = await client.ReceiveAsync(keys.Count);
        Assert.Equal(keys, received.Select(m => m.Key));
        await Eventually.TrueAsync(() => client.Connection.Sent == keys.Count, "every queued message was sent");
        Assert.Equal(0, client.Connection.QueueDepth);
    }

    [Fact]
    public async Task ConnectionManagerQueueLimit()
    {
        await using var harness = new RealtimeHarness();
        Assert.Equal(1000, harness.Options.QueueCapacity);
        var mixedJob = Guid.NewGuid();
        var strictJob = Guid.NewGuid();
        var mixed = harness.Connect(jobId: mixedJob, clientReceiveWindow: 1);
        var strict = harness.Connect(jobId: strictJob, clientReceiveWindow: 1);

        // Both clients stop reading: the first message fills each one's window, and each writer waits in a send.
        var mixedKeys = new List<string> { "progress:0", "progress:1" };
        harness.Publish(Progress(mixedJob, 0));
        harness.Publish(Status(strictJob, 0));
        await Eventually.TrueAsync(() => mixed.Connection.Sent == 1 && strict.Connection.Sent == 1, "the first messages went out");
        harness.Publish(Progress(mixedJob, 1));
        harness.Publish(Status(strictJob, 1));
        await mixed.Pair.ServerSendBlocked.WaitAsync(Bound);
        await strict.Pair.ServerSendBlocked.WaitAsync(Bound);
        var mixedWaiting = InFlightAndQueued(mixed.Connection, 2);
        var strictWaiting = InFlightAndQueued(strict.Connection, 2);

        // 1,200 more messages for a client that does not read: frames, with a progress every 100.
        var progress = 2;
        for (var i = 0; i < 1200; i++)
        {
            if (i % 100 == 50)
            {
                mixedKeys.Add($"progress:{progress}");
                harness.Publish(Progress(mixedJob, progress++));
            }
            else
            {
                mixedKeys.Add($"frame:{i}");
                harness.Publish(Frame(mixedJob, i));
            }
        }

        var overflowBy = mixedWaiting.Queued + 1200 - 1000;
        Assert.Equal(1000, mixed.Connection.QueueDepth);
        Assert.Equal(overflowBy, mixed.Connection.Dropped);
        Assert.True(harness.IsConnected(mixed.Connection.Id));
        Assert.Null(mixed.Connection.CloseCode);

        // What arrives is everything except the oldest frames, in the order published: no progress was lost.
        var firstFrames = mixedKeys.Where(k => k.StartsWith("frame:", StringComparison.Ordinal)).Take(overflowBy).ToHashSet();
        var expected = mixedKeys.Where(k => !firstFrames.Contains(k)).ToList();
        var received = await mixed.ReceiveAsync(expected.Count);
        Assert.Equal(expected, received.Select(m => m.Key));
        Assert.Equal(14, received.Count(m => m.Type == "progress"));

        // A queue full of messages that may not be dropped: frames are turned away, then the next status closes with 4002.
        for (var i = 2; i < 2 + 1000 - strictWaiting.Queued; i++)
        {
            harness.Publish(Status(strictJob, i));
        }

        Assert.Equal(1000, strict.Connection.QueueDepth);
        harness.Publish(Frame(strictJob, 0));
        harness.Publish(PartialResult(strictJob));
        Assert.Equal(2, strict.Connection.Dropped);
        Assert.Null(strict.Connection.CloseCode);

        harness.Publish(Status(strictJob, 5000));

        Assert.Equal(4002, strict.Connection.CloseCode);
        var close = await strict.ReceiveCloseAsync();
        Assert.Equal(4002, close.Code);
        Assert.Contains("slow consumer", close.Description, StringComparison.Ordinal);
        Assert.Equal(strictWaiting.Sent + strictWaiting.InFlight, close.Before.Count);
        await strict.Connection.Completion.WaitAsync(Bound);
        Assert.False(harness.IsConnected(strict.Connection.Id));
        Assert.True(harness.IsConnected(mixed.Connection.Id));
    }

    [Fact]
    public async Task ConnectionManagerQueuePreservesOrder()
    {
        await using var harness = new RealtimeHarness();
        var job = Guid.NewGuid();
        var clients = Enumerable.Range(0, 5).Select(_ => harness.Connect(jobId: job)).ToArray();
        var expected = new List<string>();

        for (var i = 0; i < 100; i++)
        {
            if (i % 3 == 0)
            {
                harness.Publish(Frame(job, i));
                expected.Add($"frame:{i}");
            }
            else
            {
                harness.Publish(Status(job, i));
                expected.Add($"plugin_status:{i}");
            }
        }

        var received = await Task.WhenAll(clients.Select(c => c.ReceiveAsync(100)));
        Assert.All(received, messages => Assert.Equal(expected, messages.Select(m => m.Key)));
    }

    // ---- subscriptions, welcome, limits ---------------------------------------------------------------------

    [Fact]
    public async Task Publish_ToJobSubscribers_ReachesOnlyThatJobWhileUnfilteredGetsEverything()
    {
        await using var harness = new RealtimeHarness();
        var jobA = Guid.NewGuid();
        var jobB = Guid.NewGuid();
        var followsA = harness.Connect(jobId: jobA);
        var followsB = harness.Connect(jobId: jobB);
        var everything = harness.Connect();

        harness.Publish(Progress(jobA, 1));
        harness.Publish(Frame(jobB, 2));
        harness.Publish(new PingPayload(30));
        harness.Publish(Metadata("ocr"));
        harness.Publish(Error(null, "disk full"));
        harness.Publish(Progress(jobB, 3));
        harness.Publish(new WarningPayload("ocr", "marker"));

        Assert.Equal(
            ["progress:1", "ping", "metadata:ocr", "error:disk full", "warning:marker"],
            (await followsA.ReceiveAsync(5)).Select(m => m.Key));
        Assert.Equal(
            ["frame:2", "ping", "metadata:ocr", "error:disk full", "progress:3", "warning:marker"],
            (await followsB.ReceiveAsync(6)).Select(m => m.Key));
        Assert.Equal(
            ["progress:1", "frame:2", "ping", "metadata:ocr", "error:disk full", "progress:3", "warning:marker"],
            (await everything.ReceiveAsync(7)).Select(m => m.Key));
    }

    [Fact]
    public async Task Send_ToOneConnection_ReachesOnlyIt()
    {
        await using var harness = new RealtimeHarness();
        var target = harness.Connect();
        var other = harness.Connect();

        Assert.True(harness.Manager.Send(target.Connection, new WarningPayload("ocr", "just you")));
        Assert.False(harness.Manager.Send(target.Connection, new WarningPayload("ocr", "")));
        harness.Publish(new WarningPayload("ocr", "everyone"));

        Assert.Equal(["warning:just you", "warning:everyone"], (await target.ReceiveAsync(2)).Select(m => m.Key));
        Assert.Equal("warning:everyone", (await other.ReceiveAsync()).Key);
    }

    [Fact]
    public async Task TryAdd_WithWelcome_DeliversWelcomeBeforeAnythingPublished()
    {
        await using var harness = new RealtimeHarness();
        var job = Guid.NewGuid();
        RealtimePayload[] welcome = [Metadata("ocr"), Metadata("pose"), new PingPayload(30), Progress(job, 40)];
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Publish continuously while the client connects: nothing may overtake its welcome.
        var publisher = Task.Run(() =>
        {
            for (var i = 0; i < 200_000 && !stop.IsCancellationRequested; i++)
            {
                harness.Publish(Frame(job, i));
                started.TrySetResult();
            }
        });
        await started.Task.WaitAsync(Bound);
        var client = harness.Connect(jobId: job, welcome: welcome);
        await stop.CancelAsync();
        await publisher.WaitAsync(Bound);

        var first = await client.ReceiveAsync(4);
        Assert.Equal(["metadata:ocr", "metadata:pose", "ping", "progress:40"], first.Select(m => m.Key));
        Assert.Equal(30, first[2].Payload.GetProperty("interval_seconds").GetInt32());
    }

    [Fact]
    public async Task TryAdd_SixthConnectionOfASession_IsRefusedWith4001()
    {
        await using var harness = new RealtimeHarness();
        var session = Guid.NewGuid();
        var accepted = Enumerable.Range(0, 5).Select(_ => harness.Connect(sessionId: session)).ToArray();

        var (refusal, refused) = harness.TryConnect(sessionId: session);

        Assert.Null(refused);
        Assert.Null(refusal.Connection);
        Assert.Equal(4001, refusal.RefusalCode);
        Assert.Contains("capacity exceeded", refusal.RefusalReason, StringComparison.Ordinal);
        Assert.Equal(5, harness.Manager.Count);

        // Other sessions and session-less clients are not limited by it.
        harness.Connect(sessionId: Guid.NewGuid());
        harness.Connect();
        Assert.Equal(7, harness.Manager.Count);

        // A slot frees when one of the session's connections ends.
        accepted[0].Connection.Abort("client went away");
        await accepted[0].Connection.Completion.WaitAsync(Bound);
        Assert.NotNull(harness.TryConnect(sessionId: session).Client);
        Assert.Null(harness.TryConnect(sessionId: session).Client);
    }

    [Fact]
    public async Task TryAdd_BeyondMaxConnectionsPerClient_IsRefusedWith4001WhateverTheSession()
    {
        await using var harness = new RealtimeHarness(o => o.MaxConnectionsPerClient = 3);
        var first = Enumerable.Range(0, 3).Select(_ => harness.Connect(sessionId: Guid.NewGuid(), client: "ip:10.0.0.1")).ToList();

        // A fresh session (or none) does not get the same client past its share; another client is not affected.
        var (refused, none) = harness.TryConnect(sessionId: Guid.NewGuid(), client: "ip:10.0.0.1");
        Assert.Null(none);
        Assert.Equal(4001, refused.RefusalCode);
        Assert.Contains("a client may open 3", refused.RefusalReason, StringComparison.Ordinal);
        Assert.Null(harness.TryConnect(client: "ip:10.0.0.1").Client);
        harness.Connect(client: "ip:10.0.0.2");

        // A closed connection gives its place back.
        first[0].Connection.RequestClose(1000, "done", drain: false);
        await first[0].Connection.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        harness.Connect(client: "ip:10.0.0.1");
    }

    [Fact]
    public async Task TryAdd_BeyondMaxConnections_IsRefusedWith4001()
    {
        await using var harness = new RealtimeHarness(o => o.MaxConnections = 3);
        for (var i = 0; i < 3; i++)
        {
            harness.Connect(sessionId: Guid.NewGuid());
        }

        var (refusal, refused) = harness.TryConnect(sessionId: Guid.NewGuid());

        Assert.Null(refused);
        Assert.Equal(4001, refusal.RefusalCode);
        Assert.Contains("3", refusal.RefusalReason, StringComparison.Ordinal);
        Assert.Equal(3, harness.Manager.Count);
    }

    // ---- serialization, shutdown ----------------------------------------------------------------------------

    [Fact]
    public async Task Publish_ToSeveralConnections_SerializesOnceAndSharesTheBytes()
    {
        await using var harness = new RealtimeHarness();
        var first = new RecordingTransport();
        var second = new RecordingTransport();
        var a = harness.Manager.TryAdd(first, null, null).Connection!;
        var b = harness.Manager.TryAdd(second, null, null).Connection!;

        harness.Publish(Progress(Guid.NewGuid(), 3));

        var sentToFirst = await first.NextAsync();
        var sentToSecond = await second.NextAsync();
        Assert.Same(sentToFirst.Json, sentToSecond.Json);
        Assert.Equal(MessageType.Progress, sentToFirst.Type);
        a.Abort("test finished");
        b.Abort("test finished");
    }

    [Fact]
    public async Task CloseAllAsync_ClosesEveryClientWith1000AfterWhatWasQueued()
    {
        await using var harness = new RealtimeHarness();
        var job = Guid.NewGuid();
        var clients = Enumerable.Range(0, 5).Select(i => harness.Connect(jobId: i % 2 == 0 ? job : null)).ToArray();
        harness.Publish(Progress(job, 99));
        harness.Publish(new PingPayload(30));

        await harness.Manager.CloseAllAsync(1000, "server shutting down").WaitAsync(Bound);

        Assert.Equal(0, harness.Manager.Count);
        var closes = await Task.WhenAll(clients.Select(c => c.ReceiveCloseAsync()));
        Assert.All(closes, close =>
        {
            Assert.Equal(WebSocketCloseStatus.NormalClosure, close.Status);
            Assert.Equal("server shutting down", close.Description);
            Assert.Equal(["progress:99", "ping"], close.Before.Select(m => m.Key));
        });
        Assert.All(clients, c => Assert.Equal(1000, c.Connection.CloseCode));
    }

    private static (long Sent, long InFlight, int Queued) InFlightAndQueued(Connection connection, int published)
    {
        var sent = connection.Sent;
        var queued = connection.QueueDepth;
        var inFlight = published - sent - queued;
        Assert.Equal(1, inFlight);
        return (sent, inFlight, queued);
    }
}
