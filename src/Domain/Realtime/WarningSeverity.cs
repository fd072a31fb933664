namespace CleanRealtime.Domain.Realtime;

public enum WarningSeverity
{
    Low,
    Medium,
    High,
}
