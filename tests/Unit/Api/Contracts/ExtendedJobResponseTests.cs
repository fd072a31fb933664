using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using CleanRealtime.Api.Contracts;

namespace CleanRealtime.UnitTests.Api.Contracts;

public sealed class ExtendedJobResponseTests
{
    /// <summary>What the API writes with (ServerApp: web defaults, snake_case).</summary>
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static readonly string[] LegacyFields = ["job_id", "device_requested", "device_used", "fallback", "frames"];

    private static readonly string[] ExtendedFields =
        [.. LegacyFields, "progress", "plugin_timings", "warnings", "status", "error", "created_at", "started_at", "completed_at"];

    private static readonly DateTime Created = new(2026, 11, 25, 12, 0, 0, DateTimeKind.Utc);

    private static JobResponse Legacy() => new()
    {
        JobId = "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab",
        DeviceRequested = "gpu",
        DeviceUsed = "cpu",
        Fallback = true,
        Frames =
        [
            new FrameResponse("frame-000001", 1, 33.3, new Dictionary<string, JsonElement>
            {
                ["motion_detection"] = JsonDocument.Parse("""{"motion":0.25,"regions":[]}""").RootElement.Clone(),
            }),
        ],
    };

    /// <summary>The job's state as GET /v1/jobs lists it: the source of the extended fields.</summary>
    private static JobSummaryResponse State(int? progress = 40) => new(
        "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab",
        "gpu",
        "cpu",
        true,
        progress,
        new Dictionary<string, double> { ["motion_detection"] = 145.5 },
        ["motion_detection: low light (frame-000001)", "motion_detection: low light (frame-000001)"],
        "running",
        null,
        Created,
        Created.AddSeconds(1),
        null);

    /// <summary>Only the required members: the smallest valid extended response.</summary>
    private static ExtendedJobResponse Minimal() => new()
    {
        JobId = "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab",
        DeviceRequested = "cpu",
        DeviceUsed = "cpu",
        Fallback = false,
        Frames = [],
        Status = "queued",
        CreatedAt = Created,
    };

    private static JsonElement Serialize<T>(T value) => JsonSerializer.SerializeToElement(value, Json);

    private static string[] Names(JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name)];

    private static string[] PublicProperties<T>() =>
        [.. typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name)];

    // ---- 4.1 creation ----

    [Fact]
    public void ExtendedJobResponseCreates()
    {
        var response = Minimal();

        Assert.Equal("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", response.JobId);
        Assert.Equal("queued", response.Status);
        Assert.Equal(Created, response.CreatedAt);
        Assert.Empty(response.Frames);
    }

    [Fact]
    public void ExtendedJobResponseRequiredFields()
    {
        // The compiler enforces these on every object initializer ...
        var required = typeof(ExtendedJobResponse).GetProperties()
            .Where(p => p.IsDefined(typeof(RequiredMemberAttribute)))
            .Select(p => p.Name)
            .Order(StringComparer.Ordinal);
        Assert.Equal(["CreatedAt", "DeviceRequested", "DeviceUsed", "Fallback", "Frames", "JobId", "Status"], required);

        // ... and the JSON reader refuses a document missing any of them.
        var complete = Serialize(Minimal());
        foreach (var field in new[] { "job_id", "device_requested", "device_used", "fallback", "frames", "status", "created_at" })
        {
            var without = new Dictionary<string, JsonElement>(complete.EnumerateObject().Where(p => p.Name != field).Select(p => KeyValuePair.Create(p.Name, p.Value)));
            var json = JsonSerializer.Serialize(without);
            Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<ExtendedJobResponse>(json, Json));
        }

        // All present: every required field has its value.
        var response = JsonSerializer.Deserialize<ExtendedJobResponse>(complete.GetRawText(), Json)!;
        Assert.Equal(Minimal() with { Frames = response.Frames }, response);
    }

    [Fact]
    public void ExtendedJobResponseOptionalFields()
    {
        var minimal = Minimal();
        Assert.Null(minimal.Progress);
        Assert.Null(minimal.PluginTimings);
        Assert.Null(minimal.Warnings);
        Assert.Null(minimal.Error);
        Assert.Null(minimal.StartedAt);
        Assert.Null(minimal.CompletedAt);

        var full = Minimal() with
        {
            Progress = 80,
            PluginTimings = new Dictionary<string, double> { ["player_detection"] = 145.5 },
            Warnings = ["warning 1"],
            Status = "failed",
            Error = "PLUGIN_CRASH",
            StartedAt = Created.AddSeconds(1),
            CompletedAt = Created.AddSeconds(2),
        };

        Assert.Equal(80, full.Progress);
        Assert.Equal(145.5, full.PluginTimings!["player_detection"]);
        Assert.Equal(["warning 1"], full.Warnings!);
        Assert.Equal("PLUGIN_CRASH", full.Error);
        Assert.Equal(Created.AddSeconds(1), full.StartedAt);
        Assert.Equal(Created.AddSeconds(2), full.CompletedAt);

        // Absent optional fields are still written, as null (the documented shape does not change with state).
        var json = Serialize(minimal);
        Assert.Equal(ExtendedFields, Names(json));
        foreach (var field in new[] { "progress", "plugin_timings", "warnings", "error", "started_at", "completed_at" })
        {
            Assert.Equal(JsonValueKind.Null, json.GetProperty(field).ValueKind);
        }
    }

    // ---- 4.2 field types ----

    [Fact]
    public void ExtendedJobProgressType()
    {
        var response = Minimal() with { Progress = 50 };

        Assert.Equal(typeof(int?), typeof(ExtendedJobResponse).GetProperty(nameof(ExtendedJobResponse.Progress))!.PropertyType);
        Assert.Equal(50, response.Progress);
        var progress = Serialize(response).GetProperty("progress");
        Assert.Equal(JsonValueKind.Number, progress.ValueKind);
        Assert.Equal("50", progress.GetRawText());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(50)]
    [InlineData(100)]
    public void ExtendedJobProgressRange(int progress)
    {
        var response = Minimal() with { Progress = progress };

        Assert.Equal(progress, response.Progress);
        Assert.Equal(progress, JsonSerializer.Deserialize<ExtendedJobResponse>(Serialize(response).GetRawText(), Json)!.Progress);
    }

    [Theory]
    [InlineData(150)]
    [InlineData(101)]
    [InlineData(-1)]
    public void ExtendedJobProgressInvalid(int progress)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Minimal() with { Progress = progress });
        Assert.Equal("Progress", ex.ParamName);

        var json = Serialize(Minimal()).GetRawText().Replace("\"progress\":null", $"\"progress\":{progress}", StringComparison.Ordinal);
        Assert.Contains($"\"progress\":{progress}", json, StringComparison.Ordinal);
        Assert.ThrowsAny<Exception>(() => JsonSerializer.Deserialize<ExtendedJobResponse>(json, Json));
    }

    [Fact]
    public void ExtendedJobPluginTimingsType()
    {
        var response = Minimal() with { PluginTimings = new Dictionary<string, double> { ["player"] = 145.5 } };

        Assert.IsAssignableFrom<IReadOnlyDictionary<string, double>>(response.PluginTimings);
        Assert.Equal(145.5, response.PluginTimings!["player"]);
        var timings = Serialize(response).GetProperty("plugin_timings");
        Assert.Equal(JsonValueKind.Object, timings.ValueKind);
        Assert.Equal(["player"], Names(timings));
        Assert.Equal(145.5, timings.GetProperty("player").GetDouble());

        Assert.Throws<ArgumentOutOfRangeException>(() => Minimal() with { PluginTimings = new Dictionary<string, double> { ["player"] = -1 } });
        Assert.Throws<ArgumentOutOfRangeException>(() => Minimal() with { PluginTimings = new Dictionary<string, double> { ["player"] = double.NaN } });
    }

    [Fact]
    public void ExtendedJobWarningsType()
    {
        var response = Minimal() with { Warnings = ["warning 1", "warning 2", "warning 1"] };

        Assert.IsAssignableFrom<IReadOnlyList<string>>(response.Warnings);
        Assert.Equal(["warning 1", "warning 2", "warning 1"], response.Warnings!);
        var warnings = Serialize(response).GetProperty("warnings");
        Assert.Equal(JsonValueKind.Array, warnings.ValueKind);
        Assert.Equal(["warning 1", "warning 2", "warning 1"], warnings.EnumerateArray().Select(w => w.GetString()));
    }

    [Theory]
    [InlineData("queued")]
    [InlineData("running")]
    [InlineData("completed")]
    [InlineData("failed")]
    [InlineData("cancelled")]
    public void ExtendedJobStatus_DocumentedValue_IsAccepted(string status) => Assert.Equal(status, (Minimal() with { Status = status }).Status);

    [Theory]
    [InlineData("done")]
    [InlineData("Running")]
    [InlineData("")]
    public void ExtendedJobStatus_UndocumentedValue_IsRefused(string status) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Minimal() with { Status = status });

    // ---- 4.3 serialization ----

    [Fact]
    public void ExtendedJobResponseToJson()
    {
        var response = ExtendedJobResponse.From(Legacy(), State() with { CompletedAt = Created.AddSeconds(3), Status = "completed", Progress = 100 });

        var text = JsonSerializer.Serialize(response, Json);

        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        Assert.Equal("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", root.GetProperty("job_id").GetString());
        Assert.True(root.GetProperty("fallback").GetBoolean());
        Assert.Equal(100, root.GetProperty("progress").GetInt32());
        Assert.Equal("completed", root.GetProperty("status").GetString());
        Assert.Equal("2026-11-25T12:00:00Z", root.GetProperty("created_at").GetString());
        Assert.Equal("2026-11-25T12:00:03Z", root.GetProperty("completed_at").GetString());
        var frame = root.GetProperty("frames")[0];
        Assert.Equal(["frame_id", "index", "timestamp_ms", "results"], Names(frame));
        Assert.Equal(0.25, frame.GetProperty("results").GetProperty("motion_detection").GetProperty("motion").GetDouble());
    }

    [Fact]
    public void ExtendedJobResponseFromJson()
    {
        const string json = """
            {
              "job_id": "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab",
              "device_requested": "gpu",
              "device_used": "cpu",
              "fallback": true,
              "frames": [ { "frame_id": "frame-000001", "index": 1, "timestamp_ms": 33.3, "results": { "motion_detection": { "motion": 0.25 } } } ],
              "progress": 50,
              "plugin_timings": { "player": 145.5 },
              "warnings": ["warning 1", "warning 2"],
              "status": "running",
              "error": null,
              "created_at": "2026-11-25T12:00:00Z",
              "started_at": "2026-11-25T12:00:01.5Z",
              "completed_at": null
            }
            """;

        var response = JsonSerializer.Deserialize<ExtendedJobResponse>(json, Json)!;

        Assert.Equal("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", response.JobId);
        Assert.Equal(("gpu", "cpu", true), (response.DeviceRequested, response.DeviceUsed, response.Fallback));
        var frame = Assert.Single(response.Frames);
        Assert.Equal(("frame-000001", 1, 33.3), (frame.FrameId, frame.Index, frame.TimestampMs));
        Assert.Equal(0.25, frame.Results["motion_detection"].GetProperty("motion").GetDouble());
        Assert.Equal(50, response.Progress);
        Assert.Equal(145.5, response.PluginTimings!["player"]);
        Assert.Equal(["warning 1", "warning 2"], response.Warnings!);
        Assert.Equal("running", response.Status);
        Assert.Null(response.Error);
        Assert.Equal(Created, response.CreatedAt);
        Assert.Equal(DateTimeKind.Utc, response.CreatedAt.Kind);
        Assert.Equal(Created.AddSeconds(1.5), response.StartedAt);
        Assert.Null(response.CompletedAt);

        // Round trip: what we write, we read back the same.
        Assert.Equal(Serialize(response).GetRawText(), Serialize(JsonSerializer.Deserialize<ExtendedJobResponse>(Serialize(response).GetRawText(), Json)).GetRawText());
    }

    [Fact]
    public void ExtendedJobResponseSchemaValid()
    {
        var json = Serialize(ExtendedJobResponse.From(Legacy(), State()));

        // Exactly the documented fields, the five legacy ones first, in this order.
        Assert.Equal(ExtendedFields, Names(json));
        Assert.Equal(JsonValueKind.String, json.GetProperty("job_id").ValueKind);
        Assert.Equal(JsonValueKind.String, json.GetProperty("device_requested").ValueKind);
        Assert.Equal(JsonValueKind.String, json.GetProperty("device_used").ValueKind);
        Assert.Equal(JsonValueKind.True, json.GetProperty("fallback").ValueKind);
        Assert.Equal(JsonValueKind.Array, json.GetProperty("frames").ValueKind);
        Assert.Equal(JsonValueKind.Number, json.GetProperty("progress").ValueKind);
        Assert.Equal(JsonValueKind.Object, json.GetProperty("plugin_timings").ValueKind);
        Assert.Equal(JsonValueKind.Array, json.GetProperty("warnings").ValueKind);
        Assert.Contains(json.GetProperty("status").GetString(), new[] { "queued", "running", "completed", "failed", "cancelled" });
        Assert.Equal(JsonValueKind.Null, json.GetProperty("error").ValueKind);
        Assert.EndsWith("Z", json.GetProperty("created_at").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("Z", json.GetProperty("started_at").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("completed_at").ValueKind);
        Assert.InRange(json.GetProperty("progress").GetInt32(), 0, 100);
    }

    // ---- 4.4 backward compatibility ----

    [Fact]
    public void Phase9JobResponseStillWorks()
    {
        var legacy = Legacy();

        var json = Serialize(legacy);

        Assert.Equal(LegacyFields, Names(json));
        Assert.Equal("gpu", json.GetProperty("device_requested").GetString());
        Assert.Equal("cpu", json.GetProperty("device_used").GetString());
        Assert.True(json.GetProperty("fallback").GetBoolean());
        Assert.Equal("frame-000001", json.GetProperty("frames")[0].GetProperty("frame_id").GetString());
        var back = JsonSerializer.Deserialize<JobResponse>(json.GetRawText(), Json)!;
        Assert.Equal(legacy.JobId, back.JobId);
        Assert.Equal(legacy.Frames[0].FrameId, back.Frames[0].FrameId);
    }

    [Fact]
    public void ExtendedJobIncludesAllPhase9Fields()
    {
        var legacy = Legacy();

        var extended = ExtendedJobResponse.From(legacy, State());

        Assert.Equal(legacy.JobId, extended.JobId);
        Assert.Equal(legacy.DeviceRequested, extended.DeviceRequested);
        Assert.Equal(legacy.DeviceUsed, extended.DeviceUsed);
        Assert.Equal(legacy.Fallback, extended.Fallback);
        Assert.Same(legacy.Frames, extended.Frames);

        // On the wire: the same five fields first, with byte-identical values.
        var legacyJson = Serialize(legacy);
        var extendedJson = Serialize(extended);
        Assert.Equal(LegacyFields, Names(extendedJson).Take(5));
        foreach (var field in LegacyFields)
        {
            Assert.Equal(legacyJson.GetProperty(field).GetRawText(), extendedJson.GetProperty(field).GetRawText());
        }
    }

    [Fact]
    public void ExtendedJobDoesNotModifyPhase9Model()
    {
        // The legacy type still has exactly its five public properties and is unrelated to the extended one.
        Assert.Equal(["JobId", "DeviceRequested", "DeviceUsed", "Fallback", "Frames"], PublicProperties<JobResponse>());
        Assert.False(typeof(JobResponse).IsAssignableFrom(typeof(ExtendedJobResponse)));
        Assert.False(typeof(ExtendedJobResponse).IsAssignableFrom(typeof(JobResponse)));
        Assert.Equal(typeof(object), typeof(JobResponse).BaseType);

        // Building an extended response from a legacy one leaves the legacy one as it was.
        var legacy = Legacy();
        var before = Serialize(legacy).GetRawText();
        _ = ExtendedJobResponse.From(legacy, State() with { Progress = 100, Status = "completed" });
        Assert.Equal(before, Serialize(legacy).GetRawText());
        Assert.Equal(LegacyFields, Names(Serialize(legacy)));
    }

    // ---- one source: the list's summary and the extended job (API.md §2.2: "extended fields without frames") ----

    [Fact]
    public void SummaryAndExtended_DifferOnlyByFrames()
    {
        var summary = State();
        var summaryJson = Serialize(summary);
        var extendedJson = Serialize(ExtendedJobResponse.From(Legacy(), summary));

        // The same fields in the same order, less frames; each state field is the summary's, byte for byte.
        Assert.Equal(ExtendedFields.Where(f => f != "frames"), Names(summaryJson));
        Assert.Equal(Names(extendedJson).Where(f => f != "frames"), Names(summaryJson));
        foreach (var field in Names(summaryJson))
        {
            Assert.Equal(summaryJson.GetProperty(field).GetRawText(), extendedJson.GetProperty(field).GetRawText());
        }

        // And as types: every property of the summary is a property of the extended response, of the same type.
        var extended = typeof(ExtendedJobResponse).GetProperties(BindingFlags.Public | BindingFlags.Instance).ToDictionary(p => p.Name, p => p.PropertyType);
        var listed = typeof(JobSummaryResponse).GetProperties(BindingFlags.Public | BindingFlags.Instance).ToDictionary(p => p.Name, p => p.PropertyType);
        Assert.Equal(extended.Keys.Where(k => k != nameof(ExtendedJobResponse.Frames)).Order(StringComparer.Ordinal), listed.Keys.Order(StringComparer.Ordinal));
        Assert.All(listed, p => Assert.Equal(extended[p.Key], p.Value));
    }
}
