using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CleanRealtime.Application.Common;

/// <summary>Configuration section <c>Reads</c>: how many expensive reads run at once.</summary>
public sealed class ReadsOptions
{
    /// <summary>Expensive reads running at once on this node, all clients together (<c>Reads:MaxConcurrent</c>).</summary>
    public int MaxConcurrent { get; set; } = 4;

    /// <summary>Expensive reads one client may have running or waiting at once (<c>Reads:MaxConcurrentPerClient</c>).</summary>
    public int MaxConcurrentPerClient { get; set; } = 2;

    /// <summary>
    /// A job GET (<c>/v1/jobs/{id}</c>, <c>/extended</c>) is an expensive read when the job has more frames than this
    /// (<c>Reads:LargeJobFrames</c>): both serialize every frame. A frame picture always is one (it decodes a frame).
    /// </summary>
    public int LargeJobFrames { get; set; } = 10_000;

    /// <summary>How long an expensive read waits for a free place before it is answered 503 (<c>Reads:MaxWait</c>).</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Bounds the reads that cost the server far more than a request's usual share (a job GET that serializes tens of
/// thousands of frames: seconds of CPU; a frame picture: a decoded 4K frame is 24 MB): at most
/// <see cref="ReadsOptions.MaxConcurrent"/> run at once, and one client holds at most
/// <see cref="ReadsOptions.MaxConcurrentPerClient"/> of them, running or waiting. A client over its share is answered at
/// once with 429 (<see cref="CapacityExceededException"/>); a read that finds every place taken waits up to
/// <see cref="ReadsOptions.MaxWait"/>, then is answered 503 (<see cref="ServerBusyException"/>); both with
/// <c>Retry-After</c>. The rest of the API is never held up by them.
/// </summary>
public sealed partial class ExpensiveReads : IDisposable
{
    public static readonly TimeSpan ClientRetryAfter = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan ServerRetryAfter = TimeSpan.FromSeconds(2);

    private readonly ReadsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ExpensiveReads> _logger;
    private readonly SemaphoreSlim _places;
    private readonly Dictionary<string, int> _perClient = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public ExpensiveReads(IOptions<ReadsOptions> options, TimeProvider time, ILogger<ExpensiveReads> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        if (_options.MaxConcurrent < 1 || _options.MaxConcurrentPerClient < 1 || _options.LargeJobFrames < 0 || _options.MaxWait < TimeSpan.Zero)
        {
            throw new ArgumentException(
                "Reads:MaxConcurrent and Reads:MaxConcurrentPerClient must be at least 1, Reads:LargeJobFrames and Reads:MaxWait not negative.", nameof(options));
        }

        _time = time;
        _logger = logger;
        _places = new SemaphoreSlim(_options.MaxConcurrent, _options.MaxConcurrent);
    }

    /// <summary>True when a job GET of a job with <paramref name="frames"/> frames is an expensive read.</summary>
    public bool IsLargeJob(int frames) => frames > _options.LargeJobFrames;

    /// <summary>
    /// Waits for a place for one expensive read of <paramref name="client"/> (<paramref name="what"/> names it in the
    /// answer); dispose the result when the read is done.
    /// </summary>
    public async Task<IDisposable> EnterAsync(string client, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        lock (_lock)
        {
            var held = _perClient.GetValueOrDefault(client);
            if (held >= _options.MaxConcurrentPerClient)
            {
                LogRefused(client, what, "per-client");
                throw new CapacityExceededException(
                    $"You already have {_options.MaxConcurrentPerClient} expensive reads ({what} among them) in progress; try again when one has finished.",
                    ClientRetryAfter);
            }

            _perClient[client] = held + 1;
        }

        var entered = false;
        try
        {
            using var wait = new CancellationTokenSource(_options.MaxWait, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, wait.Token);
            try
            {
                await _places.WaitAsync(linked.Token).ConfigureAwait(false);
                entered = true;
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                LogRefused(client, what, "server-wide");
                throw new ServerBusyException(
                    $"The server is busy with {_options.MaxConcurrent} expensive reads ({what} is one); try again shortly.", ServerRetryAfter);
            }

            return new Place(this, client);
        }
        finally
        {
            if (!entered)
            {
                Leave(client);
            }
        }
    }

    public void Dispose() => _places.Dispose();

    private void Leave(string client)
    {
        lock (_lock)
        {
            var held = _perClient.GetValueOrDefault(client) - 1;
            if (held <= 0)
            {
                _perClient.Remove(client);
            }
            else
            {
                _perClient[client] = held;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Expensive read ({What}) refused for client {Client}: the {Share} share is taken")]
    private partial void LogRefused(string client, string what, string share);

    private sealed class Place(ExpensiveReads reads, string client) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                reads._places.Release();
                reads.Leave(client);
            }
        }
    }
}
