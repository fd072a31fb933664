using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using CleanRealtime.Application.Common;
using FluentValidation.Results;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Primitives;

namespace CleanRealtime.Api.Endpoints;

/// <summary>
/// Query parameters are declared as <c>[AsParameters]</c> records (one per endpoint, eShop's way), so the OpenAPI
/// document states each one with its type, bounds and description. <see cref="ReadQueryParameters{TBuilder}"/> reads
/// them with the project's rules and hands the handler the record it built: every bad value is a field error (one 400
/// validation problem with an <c>errors</c> object keyed by the parameter's name, never the framework's bare 400), and a
/// parameter given more than once is an error too, since which of the values was meant cannot be guessed.
/// </summary>
/// <remarks>
/// The rules by property type: <c>string</c> as sent; <c>int</c> an integer (leading sign allowed, nothing else), within a
/// <see cref="CheckedRangeAttribute"/> when it has one; <c>bool</c> <c>true</c>/<c>false</c> (also <c>1</c>/<c>0</c>,
/// any case); <c>Guid</c> a UUID. A plain <see cref="RangeAttribute"/> only documents a bound that the use case's
/// validator checks (with its own message), so that each bound is checked, and worded, in one place.
/// </remarks>
internal static class QueryParameters
{
    /// <summary>Reads every <c>[AsParameters]</c> record of the endpoint's handler from the query, by the rules above.</summary>
    public static TBuilder ReadQueryParameters<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory(static (context, next) =>
        {
            var records = context.MethodInfo.GetParameters()
                .Select((parameter, index) => (parameter, index))
                .Where(p => p.parameter.IsDefined(typeof(AsParametersAttribute)))
                .Select(p => (p.index, Reader: RecordReader.For(p.parameter.ParameterType)))
                .ToArray();
            if (records.Length == 0)
            {
                return next;
            }

            return invocation =>
            {
                var query = invocation.HttpContext.Request.Query;
                var failures = new List<ValidationFailure>();
                foreach (var (index, reader) in records)
                {
                    invocation.Arguments[index] = reader.Read(query, failures);
                }

                if (failures.Count > 0)
                {
                    throw new RequestValidationException(failures);
                }

                // The framework binds the record too (that is what puts it in the document) and flags a value its own
                // parsers refuse with a 400 (`overlay=1`); these rules accepted every value, and the record handed on is
                // the one built here, so the request goes on.
                if (invocation.HttpContext.Response.StatusCode == StatusCodes.Status400BadRequest)
                {
                    invocation.HttpContext.Response.StatusCode = StatusCodes.Status200OK;
                }

                return next(invocation);
            };
        });

    /// <summary>The text of <paramref name="name"/>, null when absent; given more than once is an error.</summary>
    private static string? Text(IQueryCollection query, string name, List<ValidationFailure> failures)
    {
        StringValues values = query[name];
        if (values.Count > 1)
        {
            failures.Add(new ValidationFailure(name, $"'{name}' may be given only once."));
            return null;
        }

        return values.Count == 0 ? null : values[0];
    }

    private static int? Integer(IQueryCollection query, string name, CheckedRangeAttribute? range, List<ValidationFailure> failures)
    {
        if (Text(query, name, failures) is not { } text)
        {
            return null;
        }

        var (min, max) = range is null ? (int.MinValue, int.MaxValue) : ((int)range.Minimum, (int)range.Maximum);
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        failures.Add(new ValidationFailure(name, range is null
            ? $"'{name}' must be an integer."
            : $"'{name}' must be an integer between {min} and {max}."));
        return null;
    }

    private static bool? Boolean(IQueryCollection query, string name, List<ValidationFailure> failures)
    {
        switch (Text(query, name, failures)?.ToLowerInvariant())
        {
            case null:
                return null;
            case "true" or "1":
                return true;
            case "false" or "0":
                return false;
            default:
                failures.Add(new ValidationFailure(name, $"'{name}' must be true or false."));
                return null;
        }
    }

    private static Guid? Uuid(IQueryCollection query, string name, List<ValidationFailure> failures)
    {
        if (Text(query, name, failures) is not { } text)
        {
            return null;
        }

        if (Guid.TryParse(text, out var value))
        {
            return value;
        }

        failures.Add(new ValidationFailure(name, $"'{name}' must be a UUID."));
        return null;
    }

    /// <summary>How one record is read: each settable property, named by its <see cref="FromQueryAttribute"/>, by its type's rule.</summary>
    private sealed class RecordReader(Type type, IReadOnlyList<(PropertyInfo Property, Func<IQueryCollection, List<ValidationFailure>, object?> Read)> properties)
    {
        public static RecordReader For(Type type)
        {
            if (type.GetConstructor(Type.EmptyTypes) is null)
            {
                throw new InvalidOperationException($"{type.Name}: a query record has a parameterless constructor and init properties.");
            }

            var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.CanWrite)
                .Select(p => (p, Rule(type, p)))
                .ToList();
            return new RecordReader(type, properties);
        }

        public object Read(IQueryCollection query, List<ValidationFailure> failures)
        {
            var record = Activator.CreateInstance(type)!;
            foreach (var (property, read) in properties)
            {
                if (read(query, failures) is { } value)
                {
                    property.SetValue(record, value);
                }
            }

            return record;
        }

        private static Func<IQueryCollection, List<ValidationFailure>, object?> Rule(Type type, PropertyInfo property)
        {
            var name = property.GetCustomAttribute<FromQueryAttribute>()?.Name
                       ?? throw new InvalidOperationException($"{type.Name}.{property.Name} has no [FromQuery(Name = ...)]: its wire name must be stated.");
            var range = property.GetCustomAttribute<CheckedRangeAttribute>();
            var kind = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            return kind == typeof(string) ? (q, f) => Text(q, name, f)
                : kind == typeof(int) ? (q, f) => Integer(q, name, range, f)
                : kind == typeof(bool) ? (q, f) => Boolean(q, name, f)
                : kind == typeof(Guid) ? (q, f) => Uuid(q, name, f)
                : throw new InvalidOperationException($"{type.Name}.{property.Name}: no query rule for {kind.Name}.");
        }
    }
}

/// <summary>
/// A bound on an integer query parameter that <see cref="QueryParameters"/> checks itself ("'limit' must be an integer
/// between 1 and 1000."), for an endpoint without a use case validator; the document shows it as any
/// <see cref="RangeAttribute"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class CheckedRangeAttribute(int minimum, int maximum) : RangeAttribute(minimum, maximum);
