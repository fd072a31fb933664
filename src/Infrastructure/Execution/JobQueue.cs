using System.Threading.Channels;
using CleanRealtime.Application.Common;

namespace CleanRealtime.Infrastructure.Execution;

/// <summary>In-process queue of job ids. Jobs are stored before they are queued, so a restart rebuilds it from the database.</summary>
internal sealed class JobQueue : IJobQueue
{
    private readonly Channel<Guid> _channel = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleWriter = false });

    public ValueTask EnqueueAsync(Guid jobId, CancellationToken cancellationToken) => _channel.Writer.WriteAsync(jobId, cancellationToken);

    public IAsyncEnumerable<Guid> ReadAllAsync(CancellationToken cancellationToken) => _channel.Reader.ReadAllAsync(cancellationToken);
}
