using System.Reflection;
using CleanRealtime.Plugins.Sdk;
using PublicApiGenerator;

namespace CleanRealtime.UnitTests.Plugins;

/// <summary>
/// The plugin SDK's public surface is what every plugin compiles against, so it is pinned: the API as text
/// (PublicApiGenerator) must equal <c>src/Plugins.Sdk/PublicApi.approved.txt</c>, whose first line names the SDK version
/// it describes. Any change fails here until the file is updated on purpose, with the version bumped by SemVer: a
/// removed or changed line is a breaking change (a new major: plugins built for the old one stop loading); added lines
/// only are a new minor.
/// </summary>
public sealed class SdkPublicApiTests
{
    private static readonly Assembly Sdk = typeof(IFramePlugin).Assembly;

    private static string ApprovedPath => Path.Combine(RepositoryRoot(), "src", "Plugins.Sdk", "PublicApi.approved.txt");

    [Fact]
    public void PublicApi_EqualsTheApprovedFile()
    {
        var current = Normalize(Sdk.GeneratePublicApi(new ApiGeneratorOptions { IncludeAssemblyAttributes = false }));
        var approvedText = File.ReadAllText(ApprovedPath);
        var approved = Normalize(string.Join('\n', approvedText.Split('\n').Skip(1)));
        if (current == approved)
        {
            return;
        }

        var now = current.Split('\n');
        var before = approved.Split('\n');
        var removed = before.Except(now).ToList();
        var added = now.Except(before).ToList();
        var received = Path.ChangeExtension(ApprovedPath, ".received.txt");
        File.WriteAllText(received, $"{Header()}\n{current}\n");
        Assert.Fail(
            $"The SDK's public API changed ({(removed.Count > 0 ? "BREAKING: bump the major version" : "additions only: bump the minor version")} " +
            $"in src/Plugins.Sdk/Plugins.Sdk.csproj, then replace {ApprovedPath} with {received}).\n" +
            $"Removed or changed:\n  {string.Join("\n  ", removed)}\nAdded:\n  {string.Join("\n  ", added)}");
    }

    [Fact]
    public void ApprovedFile_NamesThisSdkVersion()
    {
        var firstLine = File.ReadLines(ApprovedPath).First();
        Assert.Equal(Header(), firstLine);
    }

    [Fact]
    public void PublicTypes_AreAllDocumented()
    {
        var xml = Path.ChangeExtension(Sdk.Location, ".xml");
        Assert.True(File.Exists(xml), $"{xml} is missing: the SDK ships its XML docs.");
        var documented = File.ReadAllText(xml);
        var undocumented = Sdk.GetExportedTypes()
            .Where(t => !documented.Contains($"name=\"T:{t.FullName!.Replace('+', '.')}\"", StringComparison.Ordinal))
            .Select(t => t.FullName)
            .ToList();
        Assert.Empty(undocumented);
    }

    private static string Header() => $"# CleanRealtime.Plugins.Sdk {SdkVersion.Current}";

    private static string Normalize(string api) =>
        string.Join('\n', api.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(l => l.TrimEnd())).Trim();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CleanRealtime.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("CleanRealtime.sln not found above " + AppContext.BaseDirectory);
    }
}
