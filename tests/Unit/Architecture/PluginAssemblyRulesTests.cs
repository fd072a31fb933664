using System.Reflection;
using CleanRealtime.Plugins.BuiltIn;
using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.UnitTests.Architecture;

/// <summary>
/// The plugin contract stands alone (API.md §7, ARCHITECTURE "the plugin contract in its own small SDK assembly"): the
/// SDK references nothing of the server, and the built-in plugins reference the SDK exactly as a plugin from a folder
/// does — nothing else of the server.
/// </summary>
public sealed class PluginAssemblyRulesTests
{
    [Fact]
    public void Sdk_ReferencesOnlyTheFrameworkMediatRAndOpenCvSharp()
    {
        var server = ServerReferences(typeof(IFramePlugin).Assembly).ToList();
        Assert.Empty(server);
        var others = typeof(IFramePlugin).Assembly.GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => !IsFramework(n) && n != "MediatR" && !n.StartsWith("OpenCvSharp", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(others);
    }

    [Fact]
    public void BuiltInPlugins_ReferenceTheSdkAndNothingElseOfTheServer()
    {
        var builtIn = typeof(BallDetectionPlugin).Assembly;
        Assert.Equal(["CleanRealtime.Plugins.Sdk"], ServerReferences(builtIn).ToList());
    }

    private static IEnumerable<string> ServerReferences(Assembly assembly) =>
        assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("CleanRealtime.", StringComparison.Ordinal));

    private static bool IsFramework(string name) =>
        name is "netstandard" or "mscorlib" || name.StartsWith("System", StringComparison.Ordinal) || name.StartsWith("Microsoft.Win32", StringComparison.Ordinal);
}
