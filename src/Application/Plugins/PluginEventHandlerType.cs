namespace CleanRealtime.Application.Plugins;

/// <summary>
/// An <c>INotificationHandler&lt;T&gt;</c> for one of the SDK's job events (<c>CleanRealtime.Plugins.Sdk.Events</c>),
/// found in a plugin's assembly when the plugin loaded. Registered as a singleton per handler; the plugin event
/// dispatcher creates and calls it off the job's path.
/// </summary>
/// <param name="Plugin">The plugin whose assembly holds it (named in its log lines).</param>
/// <param name="HandlerType">The handler's concrete type.</param>
public sealed record PluginEventHandlerType(string Plugin, Type HandlerType);
