using CleanRealtime.Api;

var app = ServerApp.Build(args);
await app.RunAsync();

/// <summary>Entry point; also the anchor type for integration tests.</summary>
public partial class Program;
