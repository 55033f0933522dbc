using Sensing.Simulators.Simulate;
using Sensing.Telemetry;

namespace Sensing.Analytics.Evaluation;

/// <summary>How one detector did on a labelled run, event by event.</summary>
public sealed record DetectorScore(
    string Kind,
    int Incidents,
    int Detected,
    IReadOnlyList<TimeSpan> Delays,
    IReadOnlyList<TruthLabel> Misses,
    IReadOnlyList<(Alert Alert, string Context)> FalseAlarms,
    double HouseholdDays,
    IReadOnlyList<(TruthLabel Incident, TimeSpan? Delay)> Outcomes)
{
    public double Recall => Incidents == 0 ? double.NaN : (double)Detected / Incidents;
    public TimeSpan? MedianDelay => Percentile(0.5);
    public TimeSpan? P90Delay => Percentile(0.9);
    public double FalseAlarmsPerThousandHouseholdDays => HouseholdDays <= 0 ? double.NaN : FalseAlarms.Count * 1000 / HouseholdDays;

    /// <summary>Nearest-rank percentile of the detection delays (none without detections).</summary>
    public TimeSpan? Percentile(double p)
    {
        if (Delays.Count == 0) return null;
        var sorted = Delays.Order().ToList();
        var rank = (int)Math.Ceiling(p * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}

/// <summary>
/// Scores alerts against the ground truth, per detector, event by event:
/// <list type="bullet">
/// <item>An incident (a truth line of the detector's kind with <c>expect_alert</c>) is detected when an alert of that
/// kind about its subject (the household, or the device) is raised within [onset, end + 1 h]; its delay is the first
/// such alert's <c>raised_at</c> − onset. An alert after the incident ended is no help to anyone, so the grace is short.</item>
/// <item>Every other alert of the kind is a false alarm: raised when nothing was wrong, or about the wrong subject.
/// Each is listed with what the truth says was going on with its subject then (a trip, a dead meter…), if anything.</item>
/// <item>False alarms per 1,000 household-days: over the households judged and the days they could be judged.</item>
/// </list>
/// </summary>
public static class EventScoring
{
    private static readonly TimeSpan s_grace = TimeSpan.FromHours(1);

    public static DetectorScore Score(string kind, IReadOnlyList<TruthLabel> truth, IReadOnlyList<Alert> alerts, double householdDays)
    {
        var incidents = truth.Where(t => t.Kind == kind && t.ExpectAlert).ToList();
        var ofKind = alerts.Where(a => a.Kind == kind).OrderBy(a => a.RaisedAt).ThenBy(a => a.Id, StringComparer.Ordinal).ToList();
        var matched = new HashSet<string>(StringComparer.Ordinal);
        var delays = new List<TimeSpan>();
        var misses = new List<TruthLabel>();
        var outcomes = new List<(TruthLabel, TimeSpan?)>();
        foreach (var incident in incidents)
        {
            var hits = ofKind.Where(a => Subject(a, kind) == incident.Subject && a.RaisedAt >= incident.Onset && a.RaisedAt <= incident.End + s_grace).ToList();
            foreach (var hit in hits) matched.Add(hit.Id);
            if (hits.Count == 0)
            {
                misses.Add(incident);
                outcomes.Add((incident, null));
            }
            else
            {
                delays.Add(hits[0].RaisedAt - incident.Onset);
                outcomes.Add((incident, delays[^1]));
            }
        }
        var falseAlarms = ofKind.Where(a => !matched.Contains(a.Id)).Select(a => (a, Context(a, kind, truth))).ToList();
        return new DetectorScore(kind, incidents.Count, incidents.Count - misses.Count, delays, misses, falseAlarms, householdDays, outcomes);
    }

    private static string? Subject(Alert alert, string kind) => kind == AlertKinds.LivingAloneDrop ? alert.Household : alert.Device;

    /// <summary>What the truth says about the alert's subject around its onset and raise, for reading a false alarm.</summary>
    private static string Context(Alert alert, string kind, IReadOnlyList<TruthLabel> truth)
    {
        var subject = Subject(alert, kind);
        var from = alert.StartedAt - TimeSpan.FromHours(1);
        var around = truth.Where(t => (t.Subject == subject || t.Household == alert.Household && alert.Household is not null || t.Community == alert.Community && t.Household is null && t.Device is null)
                && t.Onset <= alert.RaisedAt && t.End >= from)
            .Select(t => t.Kind + (t.Device is not null && t.Device != subject ? $" ({t.Device})" : ""))
            .Distinct()
            .ToList();
        return around.Count == 0 ? "nothing labelled" : string.Join(", ", around);
    }
}
