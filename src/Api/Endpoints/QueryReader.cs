using System.Globalization;
using CleanRealtime.Application.Common;
using FluentValidation.Results;

namespace CleanRealtime.Api.Endpoints;

/// <summary>
/// Reads query parameters as text and reports every bad one as a field error (400 with an <c>errors</c> object keyed
/// by the parameter's name), instead of the framework's bare 400 for a value that does not bind. A parameter given
/// more than once is an error too: which of the values was meant cannot be guessed.
/// </summary>
internal sealed class QueryReader(HttpRequest request)
{
    private readonly List<ValidationFailure> _failures = [];

    public string? Text(string name)
    {
        var values = request.Query[name];
        if (values.Count > 1)
        {
            _failures.Add(new ValidationFailure(name, $"'{name}' may be given only once."));
            return null;
        }

        return values.Count == 0 ? null : values[0];
    }

    /// <summary>The integer value of <paramref name="name"/>, null when absent; out of range or not a number is an error.</summary>
    public int? Integer(string name, int min = int.MinValue, int max = int.MaxValue)
    {
        if (Text(name) is not { } text)
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        _failures.Add(new ValidationFailure(name, min == int.MinValue && max == int.MaxValue
            ? $"'{name}' must be an integer."
            : $"'{name}' must be an integer between {min} and {max}."));
        return null;
    }

    public Guid? Uuid(string name)
    {
        if (Text(name) is not { } text)
        {
            return null;
        }

        if (Guid.TryParse(text, out var value))
        {
            return value;
        }

        _failures.Add(new ValidationFailure(name, $"'{name}' must be a UUID."));
        return null;
    }

    /// <summary>Throws the one validation exception (mapped to a 400) when any parameter was bad.</summary>
    public void ThrowIfInvalid()
    {
        if (_failures.Count > 0)
        {
            throw new RequestValidationException(_failures);
        }
    }
}
