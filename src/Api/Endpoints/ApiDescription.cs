using CleanRealtime.Api.Security;
using Microsoft.OpenApi;

namespace CleanRealtime.Api.Endpoints;

/// <summary>
/// The OpenAPI document (<c>/openapi/v1.json</c>) beyond what the endpoints state themselves: the API key scheme and the
/// 401 every <c>/v1</c> operation may answer (the rule of <see cref="SecurityMiddleware"/>), the tags' descriptions,
/// and one relative server. A client generated from it lists, reads and submits jobs with every query parameter.
/// </summary>
internal static class ApiDescription
{
    public const string ApiKeyScheme = "api_key";
    public const string ApiKeyQueryScheme = "api_key_query";

    private static readonly (string Name, string Description)[] Tags =
    [
        ("Jobs", "Submit, list, read and cancel analysis jobs; read their frames, frame pictures and realtime messages (API.md §2)."),
        ("Media", "The media library under the server's media root: upload, list, describe and delete the files a job's source names (API.md §2.5)."),
        ("System", "What this server offers (devices, plugins) and the state of its realtime connections."),
        ("Realtime", "A job's messages as they happen, over a WebSocket or Server-Sent Events (API.md §3)."),
    ];

    public static IServiceCollection AddApiDescription(this IServiceCollection services) =>
        services.AddOpenApi(o => o.AddDocumentTransformer(static (document, _, _) =>
        {
            Describe(document);
            return Task.CompletedTask;
        }));

    private static void Describe(OpenApiDocument document)
    {
        // One relative server: echoing the request's Host header would let a client write the document's URLs.
        document.Servers = [new OpenApiServer { Url = "/", Description = "The server that serves this document." }];
        document.Info.Description = "CleanRealtime: video analysis jobs, their results, and their realtime stream.";

        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = SecurityMiddleware.HeaderName,
            Description = "Needed when the server is configured with Auth:ApiKeys; a server without keys is open.",
        };
        document.Components.SecuritySchemes[ApiKeyQueryScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Query,
            Name = "api_key",
            Description = "The API key as a query parameter: accepted on /v1/realtime only, since browsers cannot set headers on a WebSocket or EventSource.",
        };
        document.Security = [Requirement(document, ApiKeyScheme)];
        document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));

        foreach (var (path, item) in document.Paths.Where(p => p.Key.StartsWith("/v1/", StringComparison.Ordinal)))
        {
            foreach (var operation in item.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
            {
                operation.Responses ??= [];
                operation.Responses.TryAdd(
                    StatusCodes.Status401Unauthorized.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    new OpenApiResponse
                    {
                        Description = "Unauthorized: the server has API keys and the request carried none, or not one of them.",
                        Content = new Dictionary<string, OpenApiMediaType>
                        {
                            ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference("ProblemDetails", document) },
                        },
                    });
                foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
                {
                    NumberAsNumber(parameter);
                }

                if (path == "/v1/realtime")
                {
                    operation.Security = [Requirement(document, ApiKeyScheme), Requirement(document, ApiKeyQueryScheme)];
                }
            }
        }
    }

    /// <summary>
    /// A number in the query or the path is a number: the schema generator describes every integer as "integer or numeric
    /// string" (what the JSON reader accepts in a body), which leaves a generated client's <c>limit</c> a union type.
    /// </summary>
    private static void NumberAsNumber(OpenApiParameter parameter)
    {
        if (parameter.Schema is OpenApiSchema { Type: { } type } schema
            && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && (type & JsonSchemaType.String) != 0)
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }
    }

    private static OpenApiSecurityRequirement Requirement(OpenApiDocument document, string scheme) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = [] };
}
