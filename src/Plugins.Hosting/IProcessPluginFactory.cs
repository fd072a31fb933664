using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Plugins.Hosting;

/// <summary>Makes the plugin that runs a process plugin's command (API.md §7.3), one child process per session.</summary>
public interface IProcessPluginFactory
{
    /// <summary>The plugin for <paramref name="definition"/>; throws when the definition cannot run here.</summary>
    IFramePlugin Create(ProcessPluginDefinition definition);
}
