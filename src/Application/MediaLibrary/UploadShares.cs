using System.Globalization;
using CleanRealtime.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.MediaLibrary;

/// <summary>Each client's share of uploads (configuration section <c>Media</c>); 0 turns a limit off.</summary>
public sealed class UploadSharesOptions
{
    /// <summary>Uploads one client may have in progress at once (<c>Media:MaxConcurrentUploadsPerClient</c>).</summary>
    public int MaxConcurrentUploadsPerClient { get; set; } = 2;

    /// <summary>Uploads one client may start per minute (<c>Media:MaxUploadsPerClientPerMinute</c>).</summary>
    public int MaxUploadsPerClientPerMinute { get; set; } = 20;

    /// <summary>
    /// Bytes one client may send as uploads per day (<c>Media:MaxUploadBytesPerClientPerDay</c>, default 10 GiB): every
    /// byte received counts, whether or not the file is kept, since each was written to the disk.
    /// </summary>
    public long MaxUploadBytesPerClientPerDay { get; set; } = 10L * 1024 * 1024 * 1024;
}

/// <summary>
/// Keeps every client (its verified API key, else its address) to its share of uploads: how many at once, how many
/// started per minute, and how many bytes per day. The minute and the day are fixed windows that start with the
/// client's first upload in them, on the injected clock. An upload refused or cut off here is a 429 with
/// <c>Retry-After</c> (<see cref="CapacityExceededException"/>).
/// </summary>
/// <remarks>
/// Shares live in this process: on a cluster each node keeps its own, so a client's share there is per node. Clients
/// whose windows have ended and who have nothing in progress are forgotten, so the table holds only recent clients.
/// </remarks>
internal sealed partial class UploadShares(IOptions<UploadSharesOptions> options, TimeProvider time, ILogger<UploadShares> logger)
{
    /// <summary>What a client with too many uploads in progress is told to wait: an upload has no known end.</summary>
    public static readonly TimeSpan ConcurrencyRetryAfter = TimeSpan.FromSeconds(5);

    private const int ForgetAbove = 1024;
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);

    private readonly Dictionary<string, Share> _shares = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>
    /// Takes one upload of <paramref name="client"/> into its share, or throws <see cref="CapacityExceededException"/>.
    /// Dispose the ticket when the upload has ended, however it ended.
    /// </summary>
    public UploadTicket Admit(string client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var limits = options.Value;
        var now = time.GetUtcNow();
        lock (_lock)
        {
            ForgetIdle(now);
            if (!_shares.TryGetValue(client, out var share))
            {
                share = new Share(now, now);
                _shares[client] = share;
            }

            share.Roll(now);
            if (limits.MaxConcurrentUploadsPerClient > 0 && share.InProgress >= limits.MaxConcurrentUploadsPerClient)
            {
                throw Refused(client, "concurrent", $"You already have {limits.MaxConcurrentUploadsPerClient} uploads in progress; start the next when one has ended.", ConcurrencyRetryAfter);
            }

            if (limits.MaxUploadsPerClientPerMinute > 0 && share.StartedThisMinute >= limits.MaxUploadsPerClientPerMinute)
            {
                throw Refused(client, "per-minute", $"You may start at most {limits.MaxUploadsPerClientPerMinute} uploads per minute.", share.MinuteStart + Minute - now);
            }

            if (limits.MaxUploadBytesPerClientPerDay > 0 && share.BytesToday >= limits.MaxUploadBytesPerClientPerDay)
            {
                throw Refused(client, "per-day", DayMessage(limits), share.DayStart + Day - now);
            }

            share.InProgress++;
            share.StartedThisMinute++;
            return new UploadTicket(this, client, share);
        }
    }

    private void Charge(string client, Share share, long bytes)
    {
        var limit = options.Value.MaxUploadBytesPerClientPerDay;
        var now = time.GetUtcNow();
        lock (_lock)
        {
            share.Roll(now);
            share.BytesToday += bytes;
            if (limit > 0 && share.BytesToday > limit)
            {
                throw Refused(client, "per-day", DayMessage(options.Value), share.DayStart + Day - now);
            }
        }
    }

    private void Release(Share share)
    {
        lock (_lock)
        {
            share.InProgress--;
        }
    }

    private void ForgetIdle(DateTimeOffset now)
    {
        if (_shares.Count < ForgetAbove)
        {
            return;
        }

        foreach (var (client, share) in _shares)
        {
            if (share.InProgress == 0 && now >= share.DayStart + Day && now >= share.MinuteStart + Minute)
            {
                _shares.Remove(client);
            }
        }
    }

    private static string DayMessage(UploadSharesOptions limits) => string.Create(
        CultureInfo.InvariantCulture, $"You may upload at most {limits.MaxUploadBytesPerClientPerDay} bytes per day (Media:MaxUploadBytesPerClientPerDay).");

    private CapacityExceededException Refused(string client, string share, string message, TimeSpan retryAfter)
    {
        LogRefused(client, share);
        return new CapacityExceededException(message, retryAfter < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : retryAfter);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload refused for client {Client}: its {Share} upload share is used up")]
    private partial void LogRefused(string client, string share);

    internal sealed class Share(DateTimeOffset minuteStart, DateTimeOffset dayStart)
    {
        public DateTimeOffset MinuteStart { get; private set; } = minuteStart;

        public DateTimeOffset DayStart { get; private set; } = dayStart;

        public int InProgress { get; set; }

        public int StartedThisMinute { get; set; }

        public long BytesToday { get; set; }

        /// <summary>Starts a new minute or day when the current one has ended.</summary>
        public void Roll(DateTimeOffset now)
        {
            if (now >= MinuteStart + Minute)
            {
                MinuteStart = now;
                StartedThisMinute = 0;
            }

            if (now >= DayStart + Day)
            {
                DayStart = now;
                BytesToday = 0;
            }
        }
    }

    /// <summary>One admitted upload: charges the bytes it receives to its client's day, and frees its place when disposed.</summary>
    public sealed class UploadTicket : IDisposable
    {
        private readonly UploadShares _shares;
        private readonly string _client;
        private readonly Share _share;
        private bool _disposed;

        internal UploadTicket(UploadShares shares, string client, Share share)
        {
            _shares = shares;
            _client = client;
            _share = share;
        }

        /// <summary>Counts <paramref name="bytes"/> received; throws <see cref="CapacityExceededException"/> past the day's share.</summary>
        public void Charge(long bytes) => _shares.Charge(_client, _share, bytes);

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                _shares.Release(_share);
            }
        }
    }
}
