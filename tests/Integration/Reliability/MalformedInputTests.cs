using System.Net;
using System.Net.WebSockets;
using System.Text;
using CleanRealtime.IntegrationTests.Infrastructure;

namespace CleanRealtime.IntegrationTests.Reliability;

/// <summary>
/// 50+ hostile or broken inputs over REST and WebSocket, each answered by its documented code, and the server healthy
/// and still running jobs afterwards.
/// </summary>
public sealed class MalformedInputTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Json = "application/json";

    public static readonly (string Name, HttpMethod Method, string Path, string? ContentType, string? Body, HttpStatusCode Expected)[] RestCases =
    [
        ("empty body", HttpMethod.Post, "/v1/jobs", Json, "", HttpStatusCode.BadRequest),
        ("not json", HttpMethod.Post, "/v1/jobs", Json, "hello", HttpStatusCode.BadRequest),
        ("truncated json", HttpMethod.Post, "/v1/jobs", Json, "{\"source\":", HttpStatusCode.BadRequest),
        ("json array", HttpMethod.Post, "/v1/jobs", Json, "[]", HttpStatusCode.BadRequest),
        ("json string", HttpMethod.Post, "/v1/jobs", Json, "\"x\"", HttpStatusCode.BadRequest),
        ("json null", HttpMethod.Post, "/v1/jobs", Json, "null", HttpStatusCode.BadRequest),
        ("json number", HttpMethod.Post, "/v1/jobs", Json, "42", HttpStatusCode.BadRequest),
        ("empty object", HttpMethod.Post, "/v1/jobs", Json, "{}", HttpStatusCode.BadRequest),
        ("source number", HttpMethod.Post, "/v1/jobs", Json, """{"source":1,"plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source object", HttpMethod.Post, "/v1/jobs", Json, """{"source":{},"plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("plugins string", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch","plugins":"frame_quality"}""", HttpStatusCode.BadRequest),
        ("plugins numbers", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch","plugins":[1,2]}""", HttpStatusCode.BadRequest),
        ("plugins null item", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch","plugins":[null]}""", HttpStatusCode.BadRequest),
        ("plugins empty", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch","plugins":[]}""", HttpStatusCode.BadRequest),
        ("plugins unknown", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch","plugins":["nope"]}""", HttpStatusCode.BadRequest),
        ("plugins duplicate", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch","plugins":["frame_quality","frame_quality"]}""", HttpStatusCode.BadRequest),
        ("plugins 17", HttpMethod.Post, "/v1/jobs", Json, "{\"source\":\"synthetic:pitch\",\"plugins\":[" + string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"p{i}\"")) + "]}", HttpStatusCode.BadRequest),
        ("device bogus", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch","device_requested":"tpu","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("device number", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch","device_requested":1,"plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source empty", HttpMethod.Post, "/v1/jobs", Json, """{"source":"","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source traversal", HttpMethod.Post, "/v1/jobs", Json, """{"source":"../etc/passwd","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source deep traversal", HttpMethod.Post, "/v1/jobs", Json, """{"source":"a/../../b.mp4","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source absolute", HttpMethod.Post, "/v1/jobs", Json, """{"source":"/etc/passwd","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source url", HttpMethod.Post, "/v1/jobs", Json, """{"source":"http://example.com/a.mp4","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source file url", HttpMethod.Post, "/v1/jobs", Json, """{"source":"file:///etc/passwd","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source backslash traversal", HttpMethod.Post, "/v1/jobs", Json, """{"source":"..\\..\\x.mp4","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("source missing file", HttpMethod.Post, "/v1/jobs", Json, """{"source":"missing.mp4","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("synthetic unknown scene", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:moon","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("synthetic bad frames", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch?frames=-1","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("synthetic huge frames", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch?frames=99999999999","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("synthetic unknown param", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch?evil=1","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("synthetic huge width", HttpMethod.Post, "/v1/jobs", Json, """{"source":"synthetic:pitch?width=100000","plugins":["frame_quality"]}""", HttpStatusCode.BadRequest),
        ("deeply nested", HttpMethod.Post, "/v1/jobs", Json, new string('[', 5000) + new string(']', 5000), HttpStatusCode.BadRequest),
        ("huge body", HttpMethod.Post, "/v1/jobs", Json, "{\"source\":\"" + new string('a', 1_200_000) + "\"}", HttpStatusCode.RequestEntityTooLarge),
        ("text/plain", HttpMethod.Post, "/v1/jobs", "text/plain", """{"source":"synthetic:pitch","plugins":["frame_quality"]}""", HttpStatusCode.UnsupportedMediaType),
        ("form", HttpMethod.Post, "/v1/jobs", "application/x-www-form-urlencoded", "source=x", HttpStatusCode.UnsupportedMediaType),
        ("no content type", HttpMethod.Post, "/v1/jobs", null, null, HttpStatusCode.UnsupportedMediaType),
        ("unknown job", HttpMethod.Get, $"/v1/jobs/{Guid.NewGuid()}", null, null, HttpStatusCode.NotFound),
        ("unknown job extended", HttpMethod.Get, $"/v1/jobs/{Guid.NewGuid()}/extended", null, null, HttpStatusCode.NotFound),
        ("unknown job cancel", HttpMethod.Post, $"/v1/jobs/{Guid.NewGuid()}/cancel", null, null, HttpStatusCode.NotFound),
        ("job id not a uuid", HttpMethod.Get, "/v1/jobs/not-a-uuid", null, null, HttpStatusCode.NotFound),
        ("job id traversal", HttpMethod.Get, "/v1/jobs/..%2F..%2Fetc", null, null, HttpStatusCode.NotFound),
        ("list limit 0", HttpMethod.Get, "/v1/jobs?limit=0", null, null, HttpStatusCode.BadRequest),
        ("list limit 101", HttpMethod.Get, "/v1/jobs?limit=101", null, null, HttpStatusCode.BadRequest),
        ("list limit text", HttpMethod.Get, "/v1/jobs?limit=ten", null, null, HttpStatusCode.BadRequest),
        ("list bad status", HttpMethod.Get, "/v1/jobs?status=exploded", null, null, HttpStatusCode.BadRequest),
        ("list bad cursor", HttpMethod.Get, "/v1/jobs?cursor=%%%", null, null, HttpStatusCode.BadRequest),
        ("list forged cursor", HttpMethod.Get, "/v1/jobs?cursor=aGVsbG8", null, null, HttpStatusCode.BadRequest),
        ("unknown v1 path", HttpMethod.Get, "/v1/nothing", null, null, HttpStatusCode.NotFound),
        ("realtime plain get", HttpMethod.Get, "/v1/realtime", null, null, HttpStatusCode.BadRequest),
        ("realtime sse bad session", HttpMethod.Get, "/v1/realtime?session_id=nope", "sse", null, HttpStatusCode.BadRequest),
        ("realtime sse unknown job", HttpMethod.Get, $"/v1/realtime?job_id={Guid.NewGuid()}", "sse", null, HttpStatusCode.NotFound),
    ];

    public static readonly (string Name, string? Text, byte[]? Binary, string? ErrorCode, WebSocketCloseStatus? Close)[] SocketCases =
    [
        ("not json", "hello", null, "MSG_INVALID_JSON", null),
        ("truncated json", "{\"type\":", null, "MSG_INVALID_JSON", null),
        ("json array", "[1,2]", null, "MSG_INVALID_JSON", null),
        ("json number", "7", null, "MSG_INVALID_JSON", null),
        ("empty object", "{}", null, "MSG_MISSING_FIELD", null),
        ("type number", """{"type":5,"payload":{}}""", null, "MSG_MISSING_FIELD", null),
        ("unknown type", """{"type":"launch","payload":{}}""", null, "MSG_UNKNOWN_TYPE", null),
        ("server-only type", """{"type":"frame","payload":{}}""", null, "MSG_UNKNOWN_TYPE", null),
        ("pong without payload", """{"type":"pong"}""", null, "MSG_MISSING_FIELD", null),
        ("pong payload string", """{"type":"pong","payload":"x"}""", null, "MSG_MISSING_FIELD", null),
        ("pong without timestamp", """{"type":"pong","payload":{}}""", null, "MSG_MISSING_FIELD", null),
        ("pong timestamp object", """{"type":"pong","payload":{"timestamp":{}}}""", null, "MSG_MISSING_FIELD", null),
        ("deep nesting", new string('[', 100) + new string(']', 100), null, "MSG_INVALID_JSON", null),
        ("invalid utf8 text", null, [0x7b, 0xff, 0xfe, 0x7d], null, WebSocketCloseStatus.InvalidPayloadData),
        ("binary frame", null, [1, 2, 3], null, WebSocketCloseStatus.InvalidMessageType),
        ("huge frame", new string('x', 5000), null, null, WebSocketCloseStatus.MessageTooBig),
    ];

    [Fact]
    public async Task FiftyPlusMalformedInputs_AreEachAnsweredByTheirCode_AndTheServerStaysHealthy()
    {
        Assert.True(RestCases.Length + SocketCases.Length >= 50, "the table must hold 50 or more inputs");
        var mismatches = new List<string>();

        foreach (var c in RestCases)
        {
            using var request = new HttpRequestMessage(c.Method, c.Path);
            if (c.ContentType == "sse")
            {
                request.Headers.Accept.ParseAdd("text/event-stream");
            }
            else if (c.Body is not null || c.ContentType is not null)
            {
                request.Content = new StringContent(c.Body ?? string.Empty, Encoding.UTF8);
                request.Content.Headers.ContentType = c.ContentType is null ? null : new System.Net.Http.Headers.MediaTypeHeaderValue(c.ContentType);
            }

            using var response = await server.Http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != c.Expected)
            {
                mismatches.Add($"REST {c.Name}: expected {(int)c.Expected}, got {(int)response.StatusCode} {body[..Math.Min(200, body.Length)]}");
            }
            else if ((int)response.StatusCode >= 400 && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                mismatches.Add($"REST {c.Name}: {(int)response.StatusCode} without application/problem+json");
            }
        }

        foreach (var c in SocketCases)
        {
            try
            {
                mismatches.AddRange(await CheckSocketCaseAsync(c));
            }
            catch (WebSocketException ex)
            {
                mismatches.Add($"WS {c.Name}: {ex.Message}");
            }
        }

        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches));

        using var ready = await server.Http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var job = await server.SubmitJobAsync("synthetic:pitch?frames=2&width=64&height=64", ["frame_quality"]);
        var done = await server.WaitForStatusAsync(job, TimeSpan.FromSeconds(30), "completed", "failed");
        Assert.Equal("completed", done.GetProperty("status").GetString());
    }

    private async Task<List<string>> CheckSocketCaseAsync(
        (string Name, string? Text, byte[]? Binary, string? ErrorCode, WebSocketCloseStatus? Close) c)
    {
        var problems = new List<string>();
        await using var client = await server.ConnectAsync();
        await client.ReceiveUntilAsync(m => m.Type == "ping", TimeSpan.FromSeconds(10));
        if (c.Text is not null)
        {
            await client.SendTextAsync(c.Text);
        }
        else
        {
            // Invalid UTF-8 goes out as a text frame (the WebSocket layer closes with 1007); other bytes as a binary frame.
            var type = c.Close == WebSocketCloseStatus.InvalidPayloadData ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
            await client.Socket.SendAsync(c.Binary!, type, true, CancellationToken.None);
        }

        if (c.ErrorCode is not null)
        {
            var reply = await client.ReceiveAsync(TimeSpan.FromSeconds(10));
            var code = reply?.Payload.TryGetProperty("details", out var details) == true ? details.GetProperty("error_code").GetString() : null;
            if (reply?.Type != "error" || code != c.ErrorCode)
            {
                problems.Add($"WS {c.Name}: expected error {c.ErrorCode}, got {reply?.Raw ?? "close"}");
            }

            // Still open: a valid pong is accepted without any answer, and the connection keeps working.
            await client.SendPongAsync();
            if (client.Socket.State != WebSocketState.Open)
            {
                problems.Add($"WS {c.Name}: the connection was closed ({client.CloseStatus})");
            }
        }
        else if (c.Close == WebSocketCloseStatus.InvalidPayloadData)
        {
            // .NET's WebSocket answers invalid UTF-8 itself: it sends 1007 and aborts at once, so the client sees the
            // 1007 close or, when the reset wins the race, a dropped connection. Either way the server lets go of it.
            try
            {
                await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));
                if (client.CloseStatus != c.Close)
                {
                    problems.Add($"WS {c.Name}: expected close {c.Close}, got {client.CloseStatus}");
                }
            }
            catch (WebSocketException)
            {
                // The reset won the race.
            }
        }
        else
        {
            var rest = await client.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));
            if (client.CloseStatus != c.Close)
            {
                problems.Add($"WS {c.Name}: expected close {c.Close}, got {client.CloseStatus} after {rest.Count} messages");
            }
        }

        return problems;
    }
}
