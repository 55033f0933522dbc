using Sensing.Analytics.Evaluation;
using Sensing.Simulators.Simulate;
using Sensing.Telemetry;
using Xunit.Abstractions;

namespace Sensing.Analytics.Tests;

public sealed class EventScoringTests
{
    private static readonly DateTimeOffset T0 = new(2026, 9, 10, 0, 0, 0, TimeSpan.Zero);

    private static TruthLabel Drop(string household, int onsetHour, int hours) =>
        new(household, AlertKinds.LivingAloneDrop, "c1", "g1", household, null, T0.AddHours(onsetHour), T0.AddHours(onsetHour + hours), 0.02, true);

    private static Alert Raised(string household, double startedHour, double raisedHour) => new()
    {
        Id = Alert.MakeId(AlertKinds.LivingAloneDrop, household, T0.AddHours(startedHour)),
        Kind = AlertKinds.LivingAloneDrop,
        Severity = AlertSeverity.Warning,
        Community = "c1",
        Household = household,
        StartedAt = T0.AddHours(startedHour),
        RaisedAt = T0.AddHours(raisedHour),
        Evidence = new AlertEvidence("", []),
    };

    [Fact]
    public void Incidents_are_matched_by_subject_and_raise_time_and_everything_else_is_a_false_alarm()
    {
        TruthLabel[] truth =
        [
            Drop("h-1", 10, 12),   // detected 2 h in
            Drop("h-2", 10, 12),   // detected 4 h in, and raised again later in the same incident (not a false alarm)
            Drop("h-3", 10, 12),   // only an alert 2 h after it ended: too late, a miss and a false alarm
            Drop("h-4", 30, 12),   // an alert before its onset: a false alarm and a miss
            new("h-5", TruthKinds.Trip, "c1", "g1", "h-5", null, T0.AddHours(40), T0.AddHours(90), null, false),
        ];
        Alert[] alerts =
        [
            Raised("h-1", 10, 12), Raised("h-2", 9, 14), Raised("h-2", 16, 18), Raised("h-3", 20, 24),
            Raised("h-4", 20, 25), Raised("h-5", 45, 50), Raised("h-9", 1, 5),
        ];

        var score = EventScoring.Score(AlertKinds.LivingAloneDrop, truth, alerts, householdDays: 2000);

        Assert.Equal((4, 2), (score.Incidents, score.Detected));
        Assert.Equal(0.5, score.Recall);
        Assert.Equal([TimeSpan.FromHours(2), TimeSpan.FromHours(4)], score.Delays);
        Assert.Equal(["h-3", "h-4"], score.Misses.Select(m => m.Subject));
        Assert.Equal(["h-9", "h-3", "h-4", "h-5"], score.FalseAlarms.Select(f => f.Alert.Household));
        Assert.Equal(TruthKinds.Trip, score.FalseAlarms.Single(f => f.Alert.Household == "h-5").Context);
        Assert.Equal(2.0, score.FalseAlarmsPerThousandHouseholdDays);
        Assert.Equal(TimeSpan.FromHours(2), score.MedianDelay);
        Assert.Equal(TimeSpan.FromHours(4), score.P90Delay);
    }
}

/// <summary>The whole evaluation on a small scenario: the simulators' feed, the service's ingest, DuckDB and detectors.</summary>
[Trait("Category", "Integration")]
public sealed class EvaluationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_small_welfare_scenario_is_mostly_caught_with_few_false_alarms()
    {
        var options = new EvaluationOptions { Households = 150, Days = 21, Seed = 3 };

        var report = await EvaluationRun.RunAsync(options, TextWriter.Null, CancellationToken.None);

        output.WriteLine(EvaluateCommand.Format(report));
        var welfare = report.Scores.Single(s => s.Kind == AlertKinds.LivingAloneDrop);
        var silence = report.Scores.Single(s => s.Kind == AlertKinds.DeviceSilent);
        // Enough labelled incidents to mean something, and the confounders the issue lists.
        Assert.True(welfare.Incidents >= 5, $"{welfare.Incidents} incidents");
        foreach (var kind in new[] { TruthKinds.HolidayAway, TruthKinds.Trip, TruthKinds.Guest, TruthKinds.HeatWave, TruthKinds.Season })
            Assert.Contains(report.Truth, t => t.Kind == kind);
        Assert.True(report.DeadLetters > 0, "malformed payloads went through ingest and were dead-lettered");
        // A detector that never raised would fail the first, one that raised at every household the second.
        Assert.True(welfare.Recall >= 0.8, $"recall {welfare.Recall}");
        Assert.True(welfare.MedianDelay <= TimeSpan.FromHours(8), $"median delay {welfare.MedianDelay}");
        Assert.True(welfare.FalseAlarmsPerThousandHouseholdDays <= 2, $"{welfare.FalseAlarms.Count} false alarms");
        Assert.True(silence.Incidents >= 1 && silence.Recall >= 0.5, $"device_silent recall {silence.Recall} of {silence.Incidents}");
        Assert.NotNull(report.Model);
    }
}
