using CleanRealtime.Application.Common;
using CleanRealtime.Application.Execution;
using CleanRealtime.Application.Jobs.Ending;
using CleanRealtime.Application.Jobs.Projection;
using CleanRealtime.Application.Realtime.Events;
using MediatR;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace CleanRealtime.UnitTests.Application.Jobs;

/// <summary>The one way a job ends, wired to the collaborators a handler test hands it (MediatR's handlers: none, unless given).</summary>
internal static class TestEndings
{
    public static JobEnding Create(
        LiveJobs live, IJobRepository repository, JobStreams streams, LostJobStreams lostStreams, TimeProvider clock, IMediator? mediator = null)
    {
        var checkpointer = new JobCheckpointer(live, repository, Options.Create(new JobsOptions()), clock, NullLogger<JobCheckpointer>.Instance);
        var events = new JobEvents(new JobProjection(live, checkpointer), mediator ?? Substitute.For<IMediator>());
        return new JobEnding(live, events, streams, lostStreams, checkpointer, repository, clock);
    }
}
