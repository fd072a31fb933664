using System.Threading.Channels;

namespace CleanRealtime.Application.Execution.Pipeline;

/// <summary>
/// Bounds the frames decoded but not yet published. A full window lets the decoder go on only once it is half empty,
/// so that a decoder ahead of the publisher is woken once per few frames, not for every one.
/// </summary>
internal sealed class FrameWindow(int size)
{
    private readonly Lock _gate = new();
    private int _inFlight;
    private TaskCompletionSource? _waiter;

    public async ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_inFlight < size)
                {
                    _inFlight++;
                    return;
                }

                _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _waiter.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Leave()
    {
        TaskCompletionSource? wake = null;
        lock (_gate)
        {
            _inFlight--;
            if (_waiter is not null && _inFlight <= size / 2)
            {
                wake = _waiter;
                _waiter = null;
            }
        }

        wake?.TrySetResult();
    }
}

/// <summary>The decoder, the lanes of every plugin and the threads they run on, from the frame where the job took them on.</summary>
internal sealed class Lanes(int parallelism, int bufferFrames)
{
    /// <summary>Frames decoded but not yet published.</summary>
    public FrameWindow Window { get; } = new(bufferFrames);

    /// <summary>Every frame's place, in the order read, for the publisher.</summary>
    public Channel<FrameWork> Frames { get; } =
        Channel.CreateBounded<FrameWork>(new BoundedChannelOptions(bufferFrames + 1) { SingleReader = true, SingleWriter = true });

    public AnalysisThreads Threads { get; } = new(parallelism, "job analysis");

    public List<Task> Tasks { get; } = [];

    public Task Decoding { get; set; } = Task.CompletedTask;

    /// <summary>Once the job's stop is cancelled: waits for the decoder and every lane, then disposes what they left.</summary>
    public async Task StopAsync()
    {
        await Decoding.ConfigureAwait(false);
        await Task.WhenAll(Tasks).ConfigureAwait(false);
        Threads.Dispose();
        while (Frames.Reader.TryRead(out var left))
        {
            left.DisposeFrame();
        }
    }
}
