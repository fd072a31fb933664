using System.Collections;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using CleanRealtime.IntegrationTests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NSwag.CodeGeneration.CSharp;
using NJsonSchema.CodeGeneration.CSharp;

namespace CleanRealtime.IntegrationTests.Api;

/// <summary>
/// Issue 17 point 9: <c>/openapi/v1.json</c> describes the API a client can really call. Redocly's recommended rules
/// find no error in it, and a client generated from it as served (NSwag, at test time, so it can never be stale and no
/// generated code lives in the repository) lists jobs with <c>status</c> and <c>limit</c> and gets typed problems.
/// </summary>
public sealed class OpenApiDocumentTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly TimeSpan LintTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Document_RedoclyRecommendedRules_ReportNoError()
    {
        var root = RepositoryRoot();
        var redocly = Path.Combine(root, "tools", "openapi", "node_modules", ".bin", "redocly");
        Assert.True(
            File.Exists(redocly),
            $"{redocly} is not installed: scripts/bootstrap.sh installs it (npm ci in tools/openapi, the version pinned in its package-lock.json).");

        var document = Path.Combine(Path.GetTempPath(), $"cleanrealtime-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(document, await server.Http.GetStringAsync("/openapi/v1.json"));
        try
        {
            var start = new ProcessStartInfo(redocly)
            {
                ArgumentList = { "lint", "--extends", "recommended", "--format", "stylish", document },
                WorkingDirectory = Path.Combine(root, "tools", "openapi"),
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment = { ["REDOCLY_TELEMETRY"] = "off", ["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true", ["NO_COLOR"] = "1" },
            };
            using var lint = Process.Start(start)!;
            var output = lint.StandardOutput.ReadToEndAsync();
            var errors = lint.StandardError.ReadToEndAsync();
            using var deadline = new CancellationTokenSource(LintTimeout);
            try
            {
                await lint.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                lint.Kill(entireProcessTree: true);
                Assert.Fail($"redocly lint did not finish within {LintTimeout.TotalSeconds:F0} s.");
            }

            var report = await output + await errors;
            Assert.True(lint.ExitCode == 0, $"redocly lint --extends recommended found errors in /openapi/v1.json (exit {lint.ExitCode}):\n{report}");
            Assert.Contains("valid", report, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            File.Delete(document);
        }
    }

    [Theory]
    [InlineData("/v1/jobs", "status", "string", null, null)]
    [InlineData("/v1/jobs", "limit", "integer", 1, 100)]
    [InlineData("/v1/jobs", "cursor", "string", null, null)]
    [InlineData("/v1/jobs/{jobId}/frames", "offset", "integer", 0, int.MaxValue)]
    [InlineData("/v1/jobs/{jobId}/frames", "limit", "integer", 1, 1000)]
    [InlineData("/v1/jobs/{jobId}/frames/{frameId}/image", "overlay", "boolean", null, null)]
    [InlineData("/v1/jobs/{jobId}/frames/{frameId}/image", "width", "integer", 16, 3840)]
    [InlineData("/v1/media", "limit", "integer", 1, 200)]
    [InlineData("/v1/realtime", "job_id", "string", null, null)]
    [InlineData("/v1/realtime", "session_id", "string", null, null)]
    [InlineData("/v1/realtime", "since", "string", null, null)]
    [InlineData("/v1/realtime/stats", "limit", "integer", 1, 1000)]
    [InlineData("/v1/realtime/stats", "offset", "integer", 0, int.MaxValue)]
    [InlineData("/v1/realtime/stats", "session_id", "string", null, null)]
    public async Task Document_StatesTheQueryParameter_WithItsTypeAndBounds(string path, string name, string type, int? minimum, int? maximum)
    {
        var document = await server.GetJsonAsync("/openapi/v1.json");

        var parameter = document.GetProperty("paths").GetProperty(path).GetProperty("get").GetProperty("parameters").EnumerateArray()
            .SingleOrDefault(p => p.GetProperty("name").GetString() == name);
        Assert.True(parameter.ValueKind == JsonValueKind.Object, $"GET {path} does not state the query parameter {name}");
        Assert.Equal("query", parameter.GetProperty("in").GetString());
        Assert.False(parameter.TryGetProperty("required", out var required) && required.GetBoolean(), $"{name} is optional");
        Assert.True(parameter.TryGetProperty("description", out _), $"{name} has no description");
        var schema = parameter.GetProperty("schema");
        Assert.Equal(type, schema.GetProperty("type").GetString());
        Assert.Equal(minimum, schema.TryGetProperty("minimum", out var min) ? min.GetInt32() : null);
        Assert.Equal(maximum, schema.TryGetProperty("maximum", out var max) ? max.GetInt32() : null);
    }

    [Fact]
    public async Task Document_DeclaresTheApiKey_AndA401OnEveryV1Operation()
    {
        var document = await server.GetJsonAsync("/openapi/v1.json");

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("api_key");
        Assert.Equal(("apiKey", "header", "X-API-Key"), (scheme.GetProperty("type").GetString(), scheme.GetProperty("in").GetString(), scheme.GetProperty("name").GetString()));
        Assert.True(document.GetProperty("security")[0].TryGetProperty("api_key", out _), document.GetProperty("security").ToString());
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                Assert.True(operation.Value.GetProperty("responses").TryGetProperty("401", out _), $"{operation.Name} {path.Name} does not state its 401");
                Assert.False(string.IsNullOrWhiteSpace(operation.Value.GetProperty("summary").GetString()), $"{operation.Name} {path.Name} has no summary");
            }
        }
    }

    [Fact]
    public async Task GeneratedClient_ListsJobsWithStatusAndLimit_AndGetsTypedProblems()
    {
        for (var i = 0; i < 3; i++)
        {
            await server.RunJobAsync(ServerFixture.Synthetic(1, width: 64, height: 64), ["frame_quality"]);
        }

        var client = await GenerateClientAsync(server.Http);
        var listJobs = client.GetType().GetMethod("ListJobsAsync", [typeof(string), typeof(int?), typeof(string)]);
        Assert.True(listJobs is not null, "the generated client has no ListJobsAsync(string status, int? limit, string cursor)");

        var page = await InvokeAsync(listJobs, client, "completed", 2, null);
        var json = JsonSerializer.SerializeToElement(page, page!.GetType());
        var items = json.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        Assert.All(items, job => Assert.Equal("completed", job.GetProperty("status").GetString()));
        Assert.False(string.IsNullOrEmpty(json.GetProperty("next_cursor").GetString()), json.ToString());

        // A refused value comes back as the problem the document declares for 400, typed, with the field named.
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => InvokeAsync(listJobs, client, "completed", 1000, null));
        Assert.Equal("ApiException`1", refused.GetType().Name);
        Assert.Equal(400, (int)refused.GetType().GetProperty("StatusCode")!.GetValue(refused)!);
        var problem = refused.GetType().GetProperty("Result")!.GetValue(refused)!;
        var errors = (IDictionary)problem.GetType().GetProperty("Errors")!.GetValue(problem)!;
        Assert.True(errors.Contains("limit"), JsonSerializer.Serialize(problem, problem.GetType()));
    }

    private static async Task<object?> InvokeAsync(MethodInfo method, object client, params object?[] arguments)
    {
        var task = (Task)method.Invoke(client, arguments)!;
        await task;
        return task.GetType().GetProperty("Result")!.GetValue(task);
    }

    /// <summary>A C# client written by NSwag from the document as served, compiled in memory, bound to <paramref name="http"/>.</summary>
    private static async Task<object> GenerateClientAsync(HttpClient http)
    {
        var document = await NSwag.OpenApiDocument.FromJsonAsync(await http.GetStringAsync("/openapi/v1.json"));
        var settings = new CSharpClientGeneratorSettings
        {
            ClassName = "CleanRealtimeClient",
            UseBaseUrl = false,
            GenerateClientInterfaces = false,
            CSharpGeneratorSettings = { Namespace = "Generated", JsonLibrary = CSharpJsonLibrary.SystemTextJson },
        };
        var code = new CSharpClientGenerator(document, settings).GenerateFile();

        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create(
            "GeneratedCleanRealtimeClient",
            [CSharpSyntaxTree.ParseText(code)],
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Disable));
        using var assembly = new MemoryStream();
        var emitted = compilation.Emit(assembly);
        Assert.True(
            emitted.Success,
            "the generated client does not compile:\n" + string.Join('\n', emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(20)));

        assembly.Position = 0;
        var loaded = new AssemblyLoadContext("generated-client", isCollectible: true).LoadFromStream(assembly);
        return Activator.CreateInstance(loaded.GetType("Generated.CleanRealtimeClient", throwOnError: true)!, http)!;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CleanRealtime.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the repository root (CleanRealtime.sln) was not found above " + AppContext.BaseDirectory);
    }
}
