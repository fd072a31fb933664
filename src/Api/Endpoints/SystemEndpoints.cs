using CleanRealtime.Api.Contracts;
using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Api.Realtime;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CleanRealtime.Api.Endpoints;

public static class SystemEndpoints
{
    private const int DefaultStatsPage = 100;
    private const int MaxStatsPage = 1000;

    public static IEndpointRouteBuilder MapSystemEndpoints(this IEndpointRouteBuilder routes)
    {
        var v1 = routes.MapGroup("/v1").WithTags("System");
        v1.WithRequestTimeout(Errors.StoreRequestTimeout.Policy);
        v1.MapGetAndHead("/devices", Devices).WithName("ListDevices");
        v1.MapGetAndHead("/plugins", Plugins).WithName("ListPlugins");
        v1.MapGetAndHead("/realtime/stats", Stats).ProducesValidationProblem().WithName("RealtimeStats");
        return routes;
    }

    private static Ok<DevicesResponse> Devices(IDeviceProbe probe) =>
        TypedResults.Ok(new DevicesResponse(
            Device.Cpu.ToWire(),
            [new DeviceResponse(Device.Cpu.ToWire(), probe.IsAvailable(Device.Cpu)), new DeviceResponse(Device.Gpu.ToWire(), probe.IsAvailable(Device.Gpu))]));

    private static Ok<List<PluginResponse>> Plugins(PluginCatalog catalog) =>
        TypedResults.Ok(catalog.All.Select(p => new PluginResponse(p.Name, p.Metadata)).ToList());

    /// <summary>
    /// Totals over the open connections, and one page of them, oldest first. Session ids are never listed (they would
    /// let anyone fill another client's per-session quota); <c>session_id</c> narrows the answer to the connections of
    /// a session its owner already knows.
    /// </summary>
    private static Ok<RealtimeStatsResponse> Stats(HttpRequest request, RealtimeSessions connections)
    {
        var query = new QueryReader(request);
        var limit = query.Integer("limit", 1, MaxStatsPage) ?? DefaultStatsPage;
        var offset = query.Integer("offset", 0, int.MaxValue) ?? 0;
        var session = query.Uuid("session_id");
        query.ThrowIfInvalid();

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
