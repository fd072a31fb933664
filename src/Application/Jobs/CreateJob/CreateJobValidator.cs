using CleanRealtime.Application.Media;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using FluentValidation;

namespace CleanRealtime.Application.Jobs.CreateJob;

internal sealed class CreateJobValidator : AbstractValidator<CreateJob>
{
    public const int MaxPlugins = 16;

    /// <summary>An error quotes at most this many characters of a value the client sent (never the whole of a huge one).</summary>
    public const int MaxQuotedLength = 64;

    private const int MaxNamesQuoted = 5;

    public CreateJobValidator(PluginCatalog catalog, IFrameSourceFactory sources)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(sources);

        RuleFor(r => r.Source).Cascade(CascadeMode.Stop)
            .NotEmpty().WithMessage("'source' is required.").OverridePropertyName("source")
            .Custom((source, context) =>
            {
                if (sources.Validate(source!) is { } problem)
                {
                    context.AddFailure(problem);
                }
            });

        RuleFor(r => r.DeviceRequested)
            .Must(d => d is null || DeviceExtensions.TryParseWire(d, out _))
            .WithMessage("'device_requested' must be one of cpu, gpu, auto.")
            .OverridePropertyName("device_requested");

        RuleFor(r => r.Plugins).Cascade(CascadeMode.Stop)
            .NotNull().WithMessage("'plugins' is required.").OverridePropertyName("plugins")
            .Must(p => p!.Count is >= 1 and <= MaxPlugins).WithMessage($"'plugins' must list between 1 and {MaxPlugins} plugins.")
            .Must(p => p!.All(name => !string.IsNullOrWhiteSpace(name))).WithMessage("'plugins' cannot contain empty names.")
            .Must(p => p!.Distinct(StringComparer.Ordinal).Count() == p!.Count).WithMessage("'plugins' must not repeat a plugin.")
            .Custom((plugins, context) =>
            {
                var unknown = plugins!.Where(name => !catalog.Contains(name)).ToList();
                if (unknown.Count > 0)
                {
                    var listed = string.Join(", ", unknown.Take(MaxNamesQuoted).Select(Quote));
                    var more = unknown.Count > MaxNamesQuoted ? $" and {unknown.Count - MaxNamesQuoted} more" : string.Empty;
                    context.AddFailure($"Unknown plugins: {listed}{more}. Registered: {string.Join(", ", catalog.All.Select(p => p.Name))}.");
                }
            });
    }

    /// <summary>A client's value as an error message quotes it: at most <see cref="MaxQuotedLength"/> characters.</summary>
    public static string Quote(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Length <= MaxQuotedLength
            ? $"'{value}'"
            : $"'{value[..MaxQuotedLength]}…' ({value.Length} characters)";
    }
}
