namespace CleanRealtime.IntegrationTests.Performance;

/// <summary>Load tests run alone, after the parallel ones, so their thresholds measure the server and not other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PerformanceCollection
{
    public const string Name = "Performance (not parallel)";
}
