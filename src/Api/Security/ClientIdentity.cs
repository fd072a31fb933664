using System.Security.Cryptography;

namespace CleanRealtime.Api.Security;

/// <summary>
/// Who a request comes from, for the per-client limits (job submission rate, queued jobs, open realtime connections):
/// the API key the security middleware verified, else the client's address. An unverified key is never trusted, so a
/// client cannot escape its limits by inventing a new key per request. The key itself is never kept: only a digest.
/// </summary>
public static class ClientIdentity
{
    private const string ItemKey = "CleanRealtime.Client";

    public static string Of(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Items[ItemKey] as string ?? $"ip:{context.Connection.RemoteIpAddress}";
    }

    internal static void SetVerifiedKey(HttpContext context, byte[] key) =>
        context.Items[ItemKey] = $"key:{Convert.ToHexStringLower(SHA256.HashData(key))[..16]}";
}
