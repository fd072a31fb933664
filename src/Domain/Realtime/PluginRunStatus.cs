namespace CleanRealtime.Domain.Realtime;

public enum PluginRunStatus
{
    Started,
    Running,
    Completed,
    Failed,
}
