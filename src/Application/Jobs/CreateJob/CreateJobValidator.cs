using CleanRealtime.Application.Media;
using CleanRealtime.Application.Plugins;
using CleanRealtime.Domain.Jobs;
using FluentValidation;

namespace CleanRealtime.Application.Jobs.CreateJob;

public sealed class CreateJobValidator : AbstractValidator<CreateJob>
{
    public const int MaxPlugins = 16;

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
                    context.AddFailure(
                        $"Unknown plugins: {string.Join(", ", unknown)}. Registered: {string.Join(", ", catalog.All.Select(p => p.Name))}.");
                }
            });
    }
}
