using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CleanRealtime.Bench.Wire;

namespace CleanRealtime.Bench.Reporting;

/// <summary>A Markdown table of one scenario.</summary>
internal sealed class Table(string title, params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public string Title => title;

    public string? Note { get; init; }

    public void Add(params string[] cells) => _rows.Add(cells);

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.Append("### ").AppendLine(title).AppendLine();
        text.Append("| ").AppendJoin(" | ", headers).AppendLine(" |");
        text.Append('|').AppendJoin('|', headers.Select(_ => "---")).AppendLine("|");
        foreach (var row in _rows)
        {
            text.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
        }

        if (Note is not null)
        {
            text.AppendLine().AppendLine(Note);
        }

        return text.ToString();
    }
}

/// <summary>One target of the issue, the figure measured against it, and whether it is met (null: not measured).</summary>
internal sealed record TargetCheck(string Target, string Measured, bool? Pass, string Note = "")
{
    public string Verdict => Pass switch { true => "PASS", false => "MISS", null => "n/a" };
}

/// <summary>Collects the tables, targets and raw figures of a run; prints them and writes latest.md / latest.json.</summary>
internal sealed class Report(string command, bool quick)
{
    private readonly List<Table> _tables = [];
    private readonly List<TargetCheck> _targets = [];
    private readonly JsonObject _json = new();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    public void Add(Table table)
    {
        _tables.Add(table);
        Console.WriteLine();
        Console.WriteLine(table.ToMarkdown());
    }

    public void Target(TargetCheck check) => _targets.Add(check);

    public void Data(string scenario, object value) =>
        _json[scenario] = JsonSerializer.SerializeToNode(value, value.GetType(), BenchJson.Options);

    public Table TargetsTable()
    {
        var table = new Table("Targets (issues 4, 8 and 11)", "target", "measured", "verdict", "note")
        {
            Note = quick ? "Quick run: figures are indicative only (short steps, few repetitions)." : null,
        };
        foreach (var t in _targets)
        {
            table.Add(t.Target, t.Measured, t.Verdict, t.Note);
        }

        return table;
    }

    public async Task WriteAsync(string directory, string? failure)
    {
        Directory.CreateDirectory(directory);
        var targets = TargetsTable();
        var machine = Machine();

        var markdown = new StringBuilder();
        markdown.AppendLine("# CleanRealtime benchmark").AppendLine();
        markdown.Append("Command: `").Append(command).AppendLine("`").AppendLine();
        markdown.Append("Run: ").Append(_started.ToString("u", CultureInfo.InvariantCulture)).Append(", ")
            .Append(quick ? "quick (smoke) run" : "full run").Append(", ")
            .Append(string.Join(", ", machine.Select(kv => $"{kv.Key}: {kv.Value}"))).AppendLine().AppendLine();
        if (failure is not null)
        {
            markdown.Append("**Run failed:** ").AppendLine(failure).AppendLine();
        }

        foreach (var table in _tables)
        {
            markdown.AppendLine(table.ToMarkdown());
        }

        markdown.AppendLine(targets.ToMarkdown());
        await File.WriteAllTextAsync(Path.Combine(directory, "latest.md"), markdown.ToString());

        var root = new JsonObject
        {
            ["command"] = command,
            ["started_at"] = _started.ToString("O", CultureInfo.InvariantCulture),
            ["finished_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["quick"] = quick,
            ["failure"] = failure,
            ["machine"] = JsonSerializer.SerializeToNode(machine, BenchJson.Options),
        };
        foreach (var (key, value) in _json)
        {
            root[key] = value?.DeepClone();
        }

        root["targets"] = JsonSerializer.SerializeToNode(
            _targets.Select(t => new { t.Target, t.Measured, pass = t.Pass, verdict = t.Verdict, t.Note }).ToList(), BenchJson.Options);
        await File.WriteAllTextAsync(
            Path.Combine(directory, "latest.json"), root.ToJsonString(new JsonSerializerOptions(BenchJson.Options) { WriteIndented = true }));
    }

    private static SortedDictionary<string, string> Machine()
    {
        var machine = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["cores"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            ["os"] = RuntimeInformation.OSDescription,
            ["runtime"] = RuntimeInformation.FrameworkDescription,
        };
        if (GitCommit() is { } commit)
        {
            machine["commit"] = commit;
        }

        try
        {
            machine["load_average_at_end"] = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            // Not Linux.
        }

        return machine;
    }

    /// <summary>The checked-out commit of the repository the bench was built in (read from .git, no git needed).</summary>
    private static string? GitCommit()
    {
        try
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var git = Path.Combine(dir.FullName, ".git");
                if (!File.Exists(Path.Combine(git, "HEAD")))
                {
                    continue;
                }

                var head = File.ReadAllText(Path.Combine(git, "HEAD")).Trim();
                if (!head.StartsWith("ref: ", StringComparison.Ordinal))
                {
                    return head;
                }

                var name = head["ref: ".Length..];
                var loose = Path.Combine(git, name);
                if (File.Exists(loose))
                {
                    return File.ReadAllText(loose).Trim();
                }

                var packed = Path.Combine(git, "packed-refs");
                return File.Exists(packed)
                    ? File.ReadLines(packed).Select(l => l.Split(' ')).FirstOrDefault(p => p.Length == 2 && p[1] == name)?[0]
                    : null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not a git checkout we can read.
        }

        return null;
    }
}

/// <summary>Invariant, fixed-precision formatting for the tables.</summary>
internal static class Fmt
{
    public static string N(double value, int decimals = 0) =>
        double.IsNaN(value) ? "–" : value.ToString("N" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    public static string Pct(double fraction, int decimals = 1) => double.IsNaN(fraction) ? "–" : N(fraction * 100, decimals) + " %";

    public static string Ratio(double value) => double.IsNaN(value) || double.IsInfinity(value) ? "–" : N(value, 2) + "×";

    public static string I(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
