using CleanRealtime.Plugins.Sdk;

namespace CleanRealtime.Application.Plugins;

/// <summary>The registered plugins, by name, in registration order.</summary>
public sealed class PluginCatalog
{
    private readonly Dictionary<string, IFramePlugin> _byName;

    public PluginCatalog(IEnumerable<IFramePlugin> plugins)
    {
        All = [.. plugins];
        _byName = new Dictionary<string, IFramePlugin>(StringComparer.Ordinal);
        foreach (var plugin in All)
        {
            if (!_byName.TryAdd(plugin.Name, plugin))
            {
                throw new InvalidOperationException($"Two plugins are registered under the name '{plugin.Name}'.");
            }
        }
    }

    public IReadOnlyList<IFramePlugin> All { get; }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public IFramePlugin Get(string name) =>
        _byName.TryGetValue(name, out var plugin) ? plugin : throw new KeyNotFoundException($"No plugin is registered as '{name}'.");
}
