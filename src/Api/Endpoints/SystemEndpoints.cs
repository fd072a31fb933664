using System.ComponentModel;
using Microsoft.AspNetCore.Mvc;
using CleanRealtime.Api.Contracts;
using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Api.Realtime;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CleanRealtime.Api.Endpoints;

public static class SystemEndpoints
{
    public static IEndpointRouteBuilder MapSystemEndpoints(this IEndpointRouteBuilder routes)
    {
        var v1 = routes.MapGroup("/v1").WithTags("System");
        v1.WithRequestTimeout(Errors.StoreRequestTimeout.Policy);
        v1.MapGetAndHead("/devices", Devices).WithName("ListDevices").WithSummary("List the devices and whether each is available");
        v1.MapGetAndHead("/plugins", Plugins).WithName("ListPlugins").WithSummary("List the plugins a job may run");
        v1.MapGetAndHead("/realtime/stats", Stats).ProducesValidationProblem().WithName("RealtimeStats")
            .WithSummary("Totals over the open realtime connections, and a page of them");
        return routes;
    }

    private static Ok<DevicesResponse> Devices(IDeviceProbe probe) =>
        TypedResults.Ok(new DevicesResponse(
            Device.Cpu.ToWire(),
            [new DeviceResponse(Device.Cpu.ToWire(), probe.IsAvailable(Device.Cpu)), new DeviceResponse(Device.Gpu.ToWire(), probe.IsAvailable(Device.Gpu))]));

    private static Ok<List<PluginResponse>> Plugins(PluginCatalog catalog) =>
        TypedResults.Ok(catalog.All.Select(p => new PluginResponse(p.Name, p.Metadata.ToDescription())).ToList());

    /// <summary>
    /// Totals over the open connections, and one page of them, oldest first. Session ids are never listed (they would
    /// let anyone fill another client's per-session quota); <c>session_id</c> narrows the answer to the connections of
    /// a session its owner already knows.
    /// </summary>
    private static Ok<RealtimeStatsResponse> Stats([AsParameters] RealtimeStatsQuery query, RealtimeSessions connections)
    {
        var limit = query.Limit ?? RealtimeStatsQuery.DefaultLimit;
        var offset = query.Offset ?? 0;
        var session = query.SessionId;

        var open = connections.Connections.Where(c => session is null || c.SessionId == session).ToList();
        var page = open
            .OrderBy(c => c.ConnectedAt).ThenBy(c => c.Id)
            .Skip(offset).Take(limit)
            .Select(c => new ConnectionStatsResponse(
                c.Id, c.Kind, c.JobId, c.ConnectedAt.UtcDateTime, c.QueueDepth, c.Sent, c.Dropped, c.LastRoundTripMs))
            .ToList();
        int? next = offset + page.Count < open.Count ? offset + page.Count : null;
        return TypedResults.Ok(new RealtimeStatsResponse(open.Count, open.Sum(c => c.Sent), open.Sum(c => c.Dropped), page, next));
    }
}

/// <summary>The query of <c>GET /v1/realtime/stats</c>; no use case validates it, so its bounds are checked as it is read.</summary>
internal sealed record RealtimeStatsQuery
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    [FromQuery(Name = "limit"), CheckedRange(1, MaxLimit), DefaultValue(DefaultLimit), Description("Connections per page, oldest first.")]
    public int? Limit { get; init; }

    [FromQuery(Name = "offset"), CheckedRange(0, int.MaxValue), DefaultValue(0), Description("How many connections to skip (the next_offset of the previous page).")]
    public int? Offset { get; init; }

    [FromQuery(Name = "session_id"), Description("Only the connections of this session (a UUID its owner chose).")]
    public Guid? SessionId { get; init; }
}
