namespace CleanRealtime.UnitTests.TestSupport;

/// <summary>
/// One direction of an in-memory connection. With a finite <c>window</c> a writer waits while that many bytes are
/// unread, as a sender does when the peer's TCP window is full; a chunk is accepted whole while the window has room.
/// </summary>
internal sealed class ByteChannel(int window)
{
    private readonly Lock _gate = new();
    private readonly Queue<byte[]> _chunks = new();
    private readonly TaskCompletionSource _writerBlocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _headOffset;
    private long _buffered;
    private bool _writerCompleted;
    private bool _readerCompleted;
    private Exception? _fault;
    private TaskCompletionSource? _readable;
    private TaskCompletionSource? _writable;

    /// <summary>Completes the first time a writer has to wait for the reader.</summary>
    public Task WriterBlocked => _writerBlocked.Task;

    public long Buffered
    {
        get
        {
            lock (_gate)
            {
                return _buffered;
            }
        }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var copy = data.ToArray();
        while (true)
        {
            Task wait;
            TaskCompletionSource? wake = null;
            lock (_gate)
            {
                ThrowIfBroken();
                if (_writerCompleted)
                {
                    throw new ObjectDisposedException(nameof(ByteChannel), "This end of the connection was closed.");
                }

                if (_readerCompleted)
                {
                    throw new IOException("Broken pipe: the peer closed the connection.");
                }

                if (_buffered < window)
                {
                    if (copy.Length > 0)
                    {
                        _chunks.Enqueue(copy);
                        _buffered += copy.Length;
                    }

                    wake = _readable;
                    _readable = null;
                    wait = Task.CompletedTask;
                }
                else
                {
                    _writable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _writable.Task;
                    _writerBlocked.TrySetResult();
                }
            }

            if (wait.IsCompleted)
            {
                wake?.TrySetResult();
                return;
            }

            await wait.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            Task? wait = null;
            TaskCompletionSource? wake = null;
            var read = 0;
            lock (_gate)
            {
                ThrowIfBroken();
                if (_readerCompleted)
                {
                    throw new ObjectDisposedException(nameof(ByteChannel), "This end of the connection was closed.");
                }

                if (_chunks.Count > 0)
                {
                    while (read < destination.Length && _chunks.Count > 0)
                    {
                        var head = _chunks.Peek();
                        var n = Math.Min(head.Length - _headOffset, destination.Length - read);
                        head.AsSpan(_headOffset, n).CopyTo(destination.Span[read..]);
                        read += n;
                        _headOffset += n;
                        if (_headOffset == head.Length)
                        {
                            _chunks.Dequeue();
                            _headOffset = 0;
                        }
                    }

                    _buffered -= read;
                    if (_buffered < window)
                    {
                        wake = _writable;
                        _writable = null;
                    }
                }
                else if (!_writerCompleted)
                {
                    _readable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _readable.Task;
                }
            }

            if (wait is null)
            {
                wake?.TrySetResult();
                return read;
            }

            await wait.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The writing end is gone: the reader sees the end of the stream once it has read what is buffered.</summary>
    public void CompleteWriting() => Update(() => _writerCompleted = true);

    /// <summary>The reading end is gone: buffered bytes are lost and writers fail with a broken pipe.</summary>
    public void CompleteReading() => Update(() =>
    {
        _readerCompleted = true;
        _chunks.Clear();
        _headOffset = 0;
        _buffered = 0;
    });

    /// <summary>The network broke: every pending and later read or write fails with <paramref name="error"/>.</summary>
    public void Fault(Exception error) => Update(() => _fault ??= error);

    private void Update(Action change)
    {
        TaskCompletionSource? readable;
        TaskCompletionSource? writable;
        lock (_gate)
        {
            change();
            readable = _readable;
            writable = _writable;
            _readable = null;
            _writable = null;
        }

        readable?.TrySetResult();
        writable?.TrySetResult();
    }

    private void ThrowIfBroken()
    {
        if (_fault is not null)
        {
            throw new IOException(_fault.Message, _fault);
        }
    }
}
