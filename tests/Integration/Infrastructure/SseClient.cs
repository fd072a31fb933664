using System.Net.Http.Headers;

namespace CleanRealtime.IntegrationTests.Infrastructure;

/// <summary>
/// A Server-Sent Events client for <c>/v1/realtime</c> (<c>Accept: text/event-stream</c>): reads <c>event:</c> and
/// <c>data:</c> lines into envelopes, and checks that each event name is the envelope's type.
/// </summary>
public sealed class SseClient : IMessageReader, IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly StreamReader _reader;
    private Task<string?>? _pendingLine;

    private SseClient(HttpClient http, HttpResponseMessage response, StreamReader reader)
    {
        _http = http;
        Response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response { get; }

    /// <summary>Opens the stream; the response is returned whatever its status (refusals are problems, not streams).</summary>
    public static async Task<SseClient> ConnectAsync(Uri baseAddress, string? query = null, string? lastEventId = null)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/realtime" + (query is null ? string.Empty : "?" + query));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        return new SseClient(http, response, new StreamReader(stream));
    }

    /// <summary>The rest of the response body as text (e.g. the problem of a refused stream).</summary>
    public Task<string> ReadToEndAsync() => _reader.ReadToEndAsync();

    /// <summary>The <c>id:</c> of the last event that had one (what an EventSource sends back as <c>Last-Event-ID</c>).</summary>
    public string? LastEventId { get; private set; }

    /// <summary>The next event as an envelope, or null when the stream ended. Throws OperationCanceledException on timeout.</summary>
    public async Task<ReceivedMessage?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        string? eventName = null;
        string? data = null;
        string? id = null;
        while (true)
        {
            var line = await NextLineAsync(deadline.Token);
            if (line is null)
            {
                return null;
            }

            if (line.Length == 0)
            {
                if (data is null)
                {
                    continue;
                }

                var message = ReceivedMessage.Parse(data);
                Assert.True(eventName == message.Type, $"SSE event '{eventName}' carries a '{message.Type}' envelope: {data}");
                Assert.True(id == message.Seq?.ToString(System.Globalization.CultureInfo.InvariantCulture), $"SSE id '{id}' is not the envelope's seq: {data}");
                LastEventId = id ?? LastEventId;
                return message;
            }

            if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                eventName = line["event:".Length..].Trim();
            }
            else if (line.StartsWith("id:", StringComparison.Ordinal))
            {
                id = line["id:".Length..].Trim();
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                data = (data is null ? string.Empty : data + "\n") + line["data:".Length..].TrimStart();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Response.Dispose();
        _reader.Dispose();
        _http.Dispose();
        if (_pendingLine is not null)
        {
            try
            {
                await _pendingLine.WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or TimeoutException or OperationCanceledException
                                           or HttpRequestException)
            {
                // The stream was torn down under the pending read: that is the point.
            }
        }
    }

    /// <summary>A timed-out line read stays pending (a cancelled stream read may lose data), like the WebSocket client.</summary>
    private async Task<string?> NextLineAsync(CancellationToken cancellationToken)
    {
        var read = _pendingLine ??= _reader.ReadLineAsync(CancellationToken.None).AsTask();
        try
        {
            await read.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            throw new OperationCanceledException("No SSE event in time.", cancellationToken);
        }

        _pendingLine = null;
        return await read;
    }
}
