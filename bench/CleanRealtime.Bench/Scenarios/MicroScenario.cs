using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using CleanRealtime.Bench.Micro;
using CleanRealtime.Bench.Reporting;
using Perfolizer.Horology;

namespace CleanRealtime.Bench.Scenarios;

/// <summary>
/// BenchmarkDotNet micro-benchmarks of the per-message work: serialization and the outbound queue, each beside its
/// bare equivalent. In-process toolchain (no extra build) and a short job, so the whole set takes a minute or two.
/// </summary>
internal static class MicroScenario
{
    public static void Run(BenchOptions options, Report report)
    {
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(options.Quick ? 1 : 3)
            .WithIterationCount(options.Quick ? 3 : 10)
            .WithIterationTime(TimeInterval.FromMilliseconds(options.Quick ? 100 : 250));
        var config = ManualConfig.CreateMinimumViable()
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddLogger(ConsoleLogger.Default)
            .WithArtifactsPath(Path.Combine(options.OutputDirectory, "BenchmarkDotNet.Artifacts"))
            .WithOptions(ConfigOptions.DisableLogFile);

        var summaries = BenchmarkRunner.Run([typeof(SerializationBenchmarks), typeof(QueueBenchmarks)], config);

        var table = new Table("Micro-benchmarks (BenchmarkDotNet, per operation)", "benchmark", "mean ns", "± error ns", "allocated B", "vs bare")
        {
            Note = "In-process toolchain, " + (options.Quick ? "1 warm-up + 3 iterations of 100 ms (quick)" : "3 warm-ups + 10 iterations of 250 ms") +
                   "; 'vs bare' = mean / the baseline row of the same class.",
        };
        var rows = new List<object>();
        foreach (var summary in summaries)
        {
            var baseline = summary.Reports.FirstOrDefault(r => r.BenchmarkCase.Descriptor.Baseline)?.ResultStatistics?.Mean ?? double.NaN;
            foreach (var r in summary.Reports)
            {
                var name = r.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo.Trim('\'');
                var mean = r.ResultStatistics?.Mean ?? double.NaN;
                var error = r.ResultStatistics?.ConfidenceInterval.Margin ?? double.NaN;
                var allocated = r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase) ?? -1;
                table.Add(name, Fmt.N(mean, 1), Fmt.N(error, 1), allocated < 0 ? "–" : Fmt.I(allocated), Fmt.Ratio(mean / baseline));
                rows.Add(new { benchmark = name, mean_ns = mean, error_ns = error, allocated_bytes = allocated, ratio_to_baseline = mean / baseline });
            }
        }

        report.Add(table);
        report.Data("micro", rows);
    }
}
