using CleanRealtime.Bench;
using CleanRealtime.Bench.Driver;
using CleanRealtime.Bench.Reporting;
using CleanRealtime.Bench.Scenarios;
using CleanRealtime.Bench.Serve;

if (args is ["serve", .. var serveArgs])
{
    return await ServeCommand.RunAsync(ServeOptions.Parse(serveArgs));
}

if (args is ["--help" or "-h" or "help", ..])
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
{
    await Console.Error.WriteLineAsync(ex.Message);
    await Console.Error.WriteLineAsync(BenchOptions.Usage);
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (!cancel.IsCancellationRequested)
    {
        e.Cancel = true;
        Console.Error.WriteLine("Stopping (Ctrl+C again to kill at once)...");
        cancel.Cancel();
    }
    else
    {
        ServerProcess.KillAll();
    }
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => ServerProcess.KillAll();

var command = "dotnet run -c Release --project bench/CleanRealtime.Bench -- " + (args.Length == 0 ? "all" : string.Join(' ', args));
var report = new Report(command, options.Quick);
string? failure = null;
try
{
    foreach (var scenario in options.Scenarios)
    {
        Console.WriteLine($"== {scenario} ==");
        switch (scenario)
        {
            case "micro":
                MicroScenario.Run(options, report);
                break;
            case "fanout":
                await new FanOutScenario(options, report).RunAsync(cancel.Token);
                break;
            case "scale":
                await new ScaleScenario(options, report).RunAsync(cancel.Token);
                break;
            case "pipeline":
                await new PipelineScenario(options, report).RunAsync(cancel.Token);
                break;
            case "replay":
                await new ReplayScenario(options, report).RunAsync(cancel.Token);
                break;
            case "peers":
                await new PeersScenario(options, report).RunAsync(cancel.Token);
                break;
            case "cluster":
                await new ClusterScenario(options, report).RunAsync(cancel.Token);
                break;
            case "soak":
                await new SoakScenario(options, report).RunAsync(cancel.Token);
                break;
        }
    }
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    failure = "cancelled";
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    // Whatever went wrong, the servers are killed below and the tables measured so far are still written.
    failure = ex.Message;
    await Console.Error.WriteLineAsync($"Benchmark failed: {ex}");
}
finally
{
    ServerProcess.KillAll();
}

var targets = report.TargetsTable();
Console.WriteLine();
Console.WriteLine(targets.ToMarkdown());
await report.WriteAsync(options.OutputDirectory, failure);
Console.WriteLine($"Wrote {Path.Combine(options.OutputDirectory, "latest.md")} and latest.json");
return failure is null ? 0 : 1;
