using System.Globalization;
using System.Text;
using System.Text.Json;
using Sensing.Analytics.Silence;
using Sensing.Telemetry;

namespace Sensing.Analytics.Facilities;

/// <summary>One line of a simulator truth file (see simulators/README.md, "Ground truth"); times in UTC.</summary>
public sealed record TruthIncident(
    string Subject,
    string Kind,
    string Community,
    string? Grid,
    string? Household,
    string? Device,
    DateTimeOffset Onset,
    DateTimeOffset End,
    double? Depth,
    bool ExpectAlert)
{
    /// <summary>Reads a truth file: one JSON object per line, every field present.</summary>
    public static IReadOnlyList<TruthIncident> ReadLines(TextReader reader)
    {
        var incidents = new List<TruthIncident>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            string? Text(string name) => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            incidents.Add(new TruthIncident(
                Text("subject") ?? throw new FormatException("truth line without 'subject'"),
                Text("kind") ?? throw new FormatException("truth line without 'kind'"),
                Text("community") ?? "",
                Text("grid"),
                Text("household"),
                Text("device"),
                root.GetProperty("onset").GetDateTimeOffset(),
                root.GetProperty("end").GetDateTimeOffset(),
                root.TryGetProperty("depth", out var depth) && depth.ValueKind == JsonValueKind.Number ? depth.GetDouble() : null,
                root.GetProperty("expect_alert").GetBoolean()));
        }
        return incidents;
    }
}

/// <summary>How one alert kind did against the truth.</summary>
/// <param name="Expected">Labelled incidents of the kind that should alert.</param>
/// <param name="Detected">Of those, the ones some alert of the kind about the same subject found in time.</param>
/// <param name="MedianDelay">Median of raise time minus labelled onset over the detected incidents.</param>
/// <param name="FalseAlarms">Alerts of the kind that match no labelled incident of the kind about their subject.</param>
public sealed record DetectorScore(
    string Kind,
    int Expected,
    int Detected,
    TimeSpan? MedianDelay,
    TimeSpan? P90Delay,
    int Alerts,
    int FalseAlarms,
    double FalseAlarmsPerThousandHouseholdDays)
{
    public double? Recall => Expected == 0 ? null : (double)Detected / Expected;
}

/// <summary>
/// Runs the stream detectors (facilities and <see cref="SilenceWatch"/>) over a recorded or simulated feed the way
/// the analytics loop runs them (readings in stored order, a check with the watermark after each batch), then scores
/// the alerts against the simulator's truth: event-level recall, detection delay from the labelled onset, and false
/// alarms per 1,000 household-days. Kept apart from the loop so an <c>evaluate</c> command can fold it in.
/// </summary>
public sealed class FacilityEvaluation
{
    private readonly FacilityDetectors _facilities;
    private readonly SilenceWatch _silence;
    private readonly int _batchSize;
    private readonly List<Alert> _alerts = [];
    private DateTimeOffset _watermark = DateTimeOffset.MinValue;
    private int _inBatch;

    /// <param name="batchSize">Readings per stored batch (ingest's <c>Ingest:BatchSize</c>); the alerts do not depend on it.</param>
    public FacilityEvaluation(FacilityOptions facilities, SilenceOptions silence, TimeZoneInfo zone, Func<string, Device?> findDevice, int batchSize = 2000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _facilities = new FacilityDetectors(facilities, zone);
        _silence = new SilenceWatch(silence, findDevice);
        _batchSize = batchSize;
    }

    /// <summary>Every alert raised so far, in the order raised.</summary>
    public IReadOnlyList<Alert> Alerts => _alerts;

    public long Readings { get; private set; }

    public void Observe(in Reading reading)
    {
        Readings++;
        _alerts.AddRange(_facilities.Observe(reading));
        if (_silence.Observe(reading.Device, reading.Community, reading.Grid, reading.Time) is { } ended) _alerts.Add(ended);
        if (reading.Time > _watermark) _watermark = reading.Time;
        if (++_inBatch == _batchSize) Check();
    }

    /// <summary>Ends the feed: the last batch's check.</summary>
    public void Finish()
    {
        if (_inBatch > 0) Check();
    }

    private void Check()
    {
        _inBatch = 0;
        _alerts.AddRange(_facilities.Check(_watermark));
        _alerts.AddRange(_silence.Check(_watermark));
    }

    /// <summary>
    /// Scores <paramref name="alerts"/> per kind. An alert matches a labelled incident of its kind about its subject (the
    /// labelled device, else household) when it was raised between <paramref name="early"/> before the onset (a lot
    /// filling up has no free space a few minutes before the simulator labels it full) and <paramref name="grace"/>
    /// after the end (a leak is judged when its night ends). An incident that should alert is detected by its first
    /// matching alert, with a delay of zero if that came before the labelled onset. Alerts matching an incident that need
    /// not alert (a silence shorter than an hour) are neither detections nor false alarms; alerts matching nothing are
    /// false alarms.
    /// </summary>
    public static IReadOnlyList<DetectorScore> Score(IReadOnlyList<TruthIncident> truth, IReadOnlyList<Alert> alerts, double householdDays, TimeSpan early, TimeSpan grace)
    {
        var kinds = truth.Where(t => t.ExpectAlert).Select(t => t.Kind).Concat(alerts.Select(a => a.Kind)).Distinct().Order(StringComparer.Ordinal);
        var scores = new List<DetectorScore>();
        foreach (var kind in kinds)
        {
            var labelled = truth.Where(t => t.Kind == kind).ToList();
            var raised = alerts.Where(a => a.Kind == kind).ToList();
            bool Matches(Alert a, TruthIncident t) =>
                (t.Device is { } device ? a.Device == device : a.Household == t.Household)
                && a.RaisedAt >= t.Onset - early && a.RaisedAt <= t.End + grace;

            var delays = new List<TimeSpan>();
            foreach (var incident in labelled.Where(t => t.ExpectAlert))
            {
                var first = raised.Where(a => Matches(a, incident)).MinBy(a => a.RaisedAt);
                if (first is not null) delays.Add(first.RaisedAt > incident.Onset ? first.RaisedAt - incident.Onset : TimeSpan.Zero);
            }
            var falseAlarms = raised.Count(a => !labelled.Any(t => Matches(a, t)));
            delays.Sort();
            scores.Add(new DetectorScore(
                kind,
                labelled.Count(t => t.ExpectAlert),
                delays.Count,
                Quantile(delays, 0.5),
                Quantile(delays, 0.9),
                raised.Count,
                falseAlarms,
                householdDays > 0 ? falseAlarms * 1000 / householdDays : 0));
        }
        return scores;
    }

    /// <summary>The scores as a fixed-width table for a console.</summary>
    public static string Table(IReadOnlyList<DetectorScore> scores)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"kind",-22} {"expected",8} {"detected",8} {"recall",7} {"median delay",13} {"p90 delay",10} {"alerts",7} {"false",6} {"FA/1k hh-days",14}");
        foreach (var s in scores)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{s.Kind,-22} {s.Expected,8} {s.Detected,8} {(s.Recall is { } r ? r.ToString("P0", CultureInfo.InvariantCulture) : "-"),7} {Duration(s.MedianDelay),13} {Duration(s.P90Delay),10} {s.Alerts,7} {s.FalseAlarms,6} {s.FalseAlarmsPerThousandHouseholdDays,14:0.###}");
        }
        return text.ToString();
    }

    private static string Duration(TimeSpan? span) => span switch
    {
        null => "-",
        { TotalMinutes: < 1 } s => $"{s.TotalSeconds:0} s",
        { TotalHours: < 2 } s => $"{s.TotalMinutes:0} min",
        var s => $"{s.Value.TotalHours:0.0} h",
    };

    /// <summary>Nearest-rank quantile of sorted values.</summary>
    private static TimeSpan? Quantile(List<TimeSpan> sorted, double q) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}
