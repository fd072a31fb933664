using CleanRealtime.Api.Contracts;
using CleanRealtime.Application.Devices;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using CleanRealtime.Infrastructure.Realtime;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CleanRealtime.Api.Endpoints;

public static class SystemEndpoints
{
    public static IEndpointRouteBuilder MapSystemEndpoints(this IEndpointRouteBuilder routes)
    {
        var v1 = routes.MapGroup("/v1").WithTags("System");
        v1.MapGet("/devices", Devices).WithName("ListDevices");
        v1.MapGet("/plugins", Plugins).WithName("ListPlugins");
        v1.MapGet("/realtime/stats", Stats).WithName("RealtimeStats");
        return routes;
    }

    private static Ok<DevicesResponse> Devices(IDeviceProbe probe) =>
        TypedResults.Ok(new DevicesResponse(
            Device.Cpu.ToWire(),
            [new DeviceResponse(Device.Cpu.ToWire(), probe.IsAvailable(Device.Cpu)), new DeviceResponse(Device.Gpu.ToWire(), probe.IsAvailable(Device.Gpu))]));

    private static Ok<List<PluginResponse>> Plugins(PluginCatalog catalog) =>
        TypedResults.Ok(catalog.All.Select(p => new PluginResponse(p.Name, p.Metadata)).ToList());

    private static Ok<RealtimeStatsResponse> Stats(ConnectionManager connections)
    {
        var open = connections.Connections
            .OrderBy(c => c.ConnectedAt)
            .Select(c => new ConnectionStatsResponse(
                c.Id, c.Kind, c.JobId, c.SessionId, c.ConnectedAt.UtcDateTime, c.QueueDepth, c.Sent, c.Dropped, c.LastRoundTripMs))
            .ToList();
        return TypedResults.Ok(new RealtimeStatsResponse(open.Count, open.Sum(c => c.Sent), open.Sum(c => c.Dropped), open));
    }
}
