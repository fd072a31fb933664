using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Plugins.Hosting;

/// <summary>
/// A process plugin as its manifest declares it (API.md §7.1, <c>runtime: "process"</c>): what to run, where, and
/// what the plugin says about itself.
/// </summary>
/// <param name="Name">The plugin's name.</param>
/// <param name="Version">The plugin's version.</param>
/// <param name="Description">What it does (the metadata's model line).</param>
/// <param name="Command">The program and its arguments, run in <paramref name="Folder"/>.</param>
/// <param name="Folder">The plugin's folder (the child's working directory).</param>
/// <param name="Concurrency">Sequential (default) or parallel.</param>
/// <param name="Options">The options the manifest declares.</param>
/// <param name="DependsOn">Plugins whose results it reads (sent as <c>inputs</c>).</param>
public sealed record ProcessPluginDefinition(
    string Name,
    string Version,
    string Description,
    IReadOnlyList<string> Command,
    string Folder,
    PluginConcurrency Concurrency,
    IReadOnlyList<PluginOption> Options,
    IReadOnlyList<string> DependsOn);
