using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Sensing.Telemetry;

namespace Sensing.Analytics.Evaluation;

/// <summary><c>analytics -- evaluate [options]</c>: the detectors' measured quality on the simulators' labelled scenarios.</summary>
public static class EvaluateCommand
{
    public const string Help = """
        usage: dotnet run -c Release --project analytics -- evaluate [options] [--Analytics:Key=value ...]

        Simulates a labelled run (the simulators' generator and ground truth), feeds it through the service's ingest
        pipeline into a DuckDB file in a temporary folder, runs the service's analytics loop over it (the same
        detectors, model training and store windows as the service) and scores the alerts against the truth, event by
        event: per detector the incidents, detected, recall, median and p90 delay from onset, and false alarms per
        1,000 household-days, then the misses and false alarms one per line.

          --scenario NAME|FILE  welfare-eval (default) | welfare-mix | all | a scenario .json (see simulate --help)
          --households N        households per community (400)
          --communities N       communities (1)
          --days N              days simulated (60)
          --seed N              the simulation's seed (1); tune on one seed, report on another
          --start TIME          RFC 3339 start (2026-09-01T00:00:00+08:00)
          --silent-rate X --reset-rate X --skew-rate X --loss-rate X --malformed-rate X
                                device faults (0.002, 0.005, 0.0005, 0.01, 0.0002)
          --work-dir DIR        keep the DuckDB file and models there instead of a temporary folder
          --alerts-out FILE     the alerts raised, one JSON object per line
          --trace H1,H2         print every hour judged for these households (expected, observed, the low run)
          --Analytics:Key=value any analytics setting (e.g. --Analytics:LivingAlone:DeepRatio=0.12), as in the service
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        EvaluationOptions? options;
        string? alertsOut;
        try
        {
            (options, alertsOut) = Parse(args);
        }
        catch (FormatException ex)
        {
            await error.WriteLineAsync($"evaluate: {ex.Message}").ConfigureAwait(false);
            await error.WriteLineAsync("evaluate --help lists the options.").ConfigureAwait(false);
            return 2;
        }
        if (options is null)
        {
            await output.WriteLineAsync(Help).ConfigureAwait(false);
            return 0;
        }

        EvaluationReport report;
        try
        {
            report = await EvaluationRun.RunAsync(options, error, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync($"evaluate: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("evaluate: interrupted").ConfigureAwait(false);
            return 130;
        }
        if (alertsOut is not null)
            await File.WriteAllLinesAsync(alertsOut, report.Alerts.Select(a => JsonSerializer.Serialize(a)), cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(Format(report)).ConfigureAwait(false);
        return 0;
    }

    /// <summary>The report as printed: a table, then the misses and false alarms of each detector.</summary>
    public static string Format(EvaluationReport report)
    {
        var o = report.Options;
        var zone = o.Start.Offset;
        var text = new System.Text.StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"evaluate: scenario {o.Scenario}, {o.Communities} × {o.Households} households, {o.Days} days from {o.Start:yyyy-MM-dd}, seed {o.Seed}: " +
            $"{report.Messages:N0} messages, {report.ReadingsStored:N0} readings stored, {report.DeadLetters:N0} dead letters, {report.JudgedHours:N0} hours judged in {report.Elapsed.TotalSeconds:0} s");
        if (report.Model is { } model)
            text.AppendLine(CultureInfo.InvariantCulture,
                $"evaluate: last welfare model v{model.Version} trained at {model.TrainedAt.ToOffset(zone):yyyy-MM-dd HH:mm} on {model.Households} households, {model.TrainingRows:N0} rows; held out: MAE {model.Metrics.MeanAbsoluteError:0.000}, R² {model.Metrics.RSquared:0.000}");
        text.AppendLine(CultureInfo.InvariantCulture, $"evaluate: of that, {report.WindowReading.TotalSeconds:0} s reading hourly windows and {report.Judging.TotalSeconds:0} s judging them (trainings included); the rest is simulation, ingest and DuckDB writes");
        text.AppendLine(CultureInfo.InvariantCulture, $"evaluate: {report.HouseholdDays:N0} household-days judged (households × days after the first {o.Analytics.MinHistoryDays})");
        text.AppendLine();
        text.AppendLine($"{"detector",-18} {"incidents",9} {"detected",8} {"recall",6} {"median delay",12} {"p90 delay",9} {"false alarms",12} {"per 1,000 hh-days",17}");
        foreach (var s in report.Scores)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{s.Kind,-18} {s.Incidents,9} {s.Detected,8} {s.Recall,6:0.000} {Hours(s.MedianDelay),12} {Hours(s.P90Delay),9} {s.FalseAlarms.Count,12} {s.FalseAlarmsPerThousandHouseholdDays,17:0.00}");
        }
        // Where the delay comes from: how deep the drop, and whether it began while people are usually up.
        if (report.Scores.FirstOrDefault(s => s.Kind == AlertKinds.LivingAloneDrop) is { Incidents: > 0 } welfare)
        {
            text.AppendLine().AppendLine("living_alone_drop by depth and by onset (local time):");
            void Row(string name, IEnumerable<(Simulators.Simulate.TruthLabel Incident, TimeSpan? Delay)> group)
            {
                var list = group.ToList();
                var delays = list.Where(o => o.Delay is not null).Select(o => o.Delay!.Value).Order().ToList();
                var median = delays.Count == 0 ? "–" : Hours(delays[(delays.Count - 1) / 2]);
                text.AppendLine(CultureInfo.InvariantCulture, $"  {name,-22} {list.Count,3} incidents, {delays.Count,3} detected, median delay {median}");
            }
            foreach (var depth in welfare.Outcomes.GroupBy(o => o.Incident.Depth ?? 0).OrderBy(g => g.Key))
                Row($"depth {depth.Key:0.00}", depth);
            Row("onset 06:00–21:59", welfare.Outcomes.Where(o => o.Incident.Onset.ToOffset(zone).Hour is >= 6 and < 22));
            Row("onset 22:00–05:59", welfare.Outcomes.Where(o => o.Incident.Onset.ToOffset(zone).Hour is < 6 or >= 22));
        }
        foreach (var s in report.Scores)
        {
            if (s.Misses.Count > 0)
            {
                text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"misses ({s.Kind}):");
                foreach (var miss in s.Misses)
                    text.AppendLine(CultureInfo.InvariantCulture,
                        $"  {miss.Subject} onset {miss.Onset.ToOffset(zone):MM-dd HH:mm} for {(miss.End - miss.Onset).TotalHours:0} h{(miss.Depth is { } d ? $", depth {d:0.00}" : "")}");
            }
            if (s.FalseAlarms.Count > 0)
            {
                text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"false alarms ({s.Kind}):");
                foreach (var (alert, context) in s.FalseAlarms)
                    text.AppendLine(CultureInfo.InvariantCulture,
                        $"  {alert.Household ?? alert.Device} raised {alert.RaisedAt.ToOffset(zone):MM-dd HH:mm}, since {alert.StartedAt.ToOffset(zone):MM-dd HH:mm} ({alert.Severity.ToString().ToLowerInvariant()}{(alert.Evidence.Summary.EndsWith("(a milder drop, sustained).", StringComparison.Ordinal) ? ", milder drop" : alert.Kind == AlertKinds.LivingAloneDrop ? ", deep drop" : "")}); truth: {context}");
            }
        }
        return text.ToString();
    }

    private static string Hours(TimeSpan? delay) => delay is { } d ? string.Create(CultureInfo.InvariantCulture, $"{d.TotalHours:0.0} h") : "–";

    /// <summary>Null options: help was asked for.</summary>
    internal static (EvaluationOptions? Options, string? AlertsOut) Parse(IReadOnlyList<string> args)
    {
        var options = new EvaluationOptions();
        string? alertsOut = null;
        var settings = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{name} needs a value");
            int Int(int min) => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
                ? n : throw new FormatException($"{name} must be a whole number ≥ {min}");
            double Fraction() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x is >= 0 and <= 1
                ? x : throw new FormatException($"{name} must be a fraction between 0 and 1");
            switch (name)
            {
                case "-h" or "--help": return (null, null);
                case "--scenario": options = options with { Scenario = Value() }; break;
                case "--households": options = options with { Households = Int(1) }; break;
                case "--communities": options = options with { Communities = Int(1) }; break;
                case "--days": options = options with { Days = Int(3) }; break;
                case "--seed": options = options with { Seed = Int(int.MinValue) }; break;
                case "--start":
                    options = options with
                    {
                        Start = DateTimeOffset.TryParse(Value(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var start)
                            ? start : throw new FormatException("--start must be an RFC 3339 time, e.g. 2026-09-01T00:00:00+08:00"),
                    };
                    break;
                case "--silent-rate": options = options with { SilentRate = Fraction() }; break;
                case "--reset-rate": options = options with { ResetRate = Fraction() }; break;
                case "--skew-rate": options = options with { SkewRate = Fraction() }; break;
                case "--loss-rate": options = options with { LossRate = Fraction() }; break;
                case "--malformed-rate": options = options with { MalformedRate = Fraction() }; break;
                case "--work-dir": options = options with { WorkDirectory = Path.GetFullPath(Value()), Keep = true }; break;
                case "--alerts-out": alertsOut = Value(); break;
                case "--trace": options = options with { Trace = Value() }; break;
                default:
                    if (name.StartsWith("--Analytics:", StringComparison.Ordinal) && name.Contains('=', StringComparison.Ordinal))
                    {
                        settings.Add(name);
                        break;
                    }
                    throw new FormatException($"unknown option '{name}'");
            }
        }

        // The service's own binding and validation, so a setting means here what it means there.
        var configuration = new ConfigurationBuilder().AddCommandLine([.. settings]).Build();
        var analytics = new AnalyticsOptions { TimeZone = "Asia/Shanghai" };
        configuration.GetSection(AnalyticsOptions.SectionName).Bind(analytics);
        var validation = new AnalyticsOptionsValidator().Validate(null, analytics);
        if (validation.Failed) throw new FormatException(string.Join(" ", validation.Failures ?? []));
        return (options with { Analytics = analytics }, alertsOut);
    }
}
