namespace CleanRealtime.Api.Errors;

/// <summary>
/// Every problem body names its <c>type</c>: ASP.NET Core fills it for the common codes, this adds the ones it leaves
/// empty (410, 413, 429, 507), so a client can tell problems apart by type alone. Problems written by the exception handler
/// get it through <see cref="Fill"/>; those written with <c>Results.Problem</c> pass <see cref="Of"/>.
/// </summary>
internal static class ProblemTypes
{
    private static readonly Dictionary<int, string> Missing = new()
    {
        [StatusCodes.Status410Gone] = "https://tools.ietf.org/html/rfc9110#section-15.5.11",
        [StatusCodes.Status413PayloadTooLarge] = "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        [StatusCodes.Status429TooManyRequests] = "https://tools.ietf.org/html/rfc6585#section-4",
        [StatusCodes.Status507InsufficientStorage] = "https://tools.ietf.org/html/rfc4918#section-11.5",
    };

    /// <summary>The type for <paramref name="status"/> when ASP.NET Core has none of its own, for <c>Results.Problem(type: …)</c>.</summary>
    public static string? Of(int status) => Missing.GetValueOrDefault(status);

    public static void Fill(ProblemDetailsContext context)
    {
        if (context.ProblemDetails.Type is null && context.ProblemDetails.Status is { } status && Missing.TryGetValue(status, out var type))
        {
            context.ProblemDetails.Type = type;
        }
    }
}
