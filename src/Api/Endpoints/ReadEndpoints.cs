namespace CleanRealtime.Api.Endpoints;

/// <summary>
/// Read endpoints answer HEAD as well as GET (RFC 9110 §9.3.2): the same status and headers, and no body — Kestrel
/// discards what the handler writes for a HEAD request. The HEAD twin stays out of the OpenAPI document (it would
/// repeat the GET operation); names and metadata go on the GET endpoint that is returned. Both twins read their query
/// records by the same rules (<see cref="QueryParameters"/>).
/// </summary>
internal static class ReadEndpoints
{
    private static readonly string[] Head = [HttpMethods.Head];

    public static RouteHandlerBuilder MapGetAndHead(this IEndpointRouteBuilder routes, string pattern, Delegate handler)
    {
        routes.MapMethods(pattern, Head, handler).ReadQueryParameters().ExcludeFromDescription();
        return routes.MapGet(pattern, handler).ReadQueryParameters();
    }
}
