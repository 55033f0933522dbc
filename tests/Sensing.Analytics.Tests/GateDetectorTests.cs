using Sensing.Analytics.Facilities;
using Sensing.Telemetry;
using static Sensing.Analytics.Tests.FacilityFeed;

namespace Sensing.Analytics.Tests;

public sealed class GateDetectorTests
{
    private static GateDetector NewDetector() => new(new GateOptions(), Zone);

    /// <summary>
    /// A gate's passes over whole local days from <paramref name="firstDay"/>: one every 10 minutes from 06:00 to
    /// midnight, and <paramref name="nightPasses"/>(day) spread evenly over 00:00–05:00 of each day.
    /// </summary>
    private static IEnumerable<Reading> Passes(string gate, int firstDay, int days, Func<int, int> nightPasses)
    {
        for (var d = firstDay; d < firstDay + days; d++)
        {
            var night = nightPasses(d);
            for (var i = 0; i < night; i++) yield return Gate(gate, Metrics.GatePass, Day(d).AddMinutes(300.0 * i / night));
            for (var t = Day(d).AddHours(6); t < Day(d + 1); t = t.AddMinutes(10)) yield return Gate(gate, Metrics.GatePass, t, "out");
        }
    }

    [Fact]
    public void A_forced_door_is_critical_at_once_and_a_held_open_one_a_warning()
    {
        var detector = NewDetector();
        var at = Day(3).AddHours(2).AddMinutes(14);

        var forced = Assert.Single(detector.Observe(Gate("gate-1", Metrics.GateForced, at)));
        Assert.Equal(AlertKinds.GateForced, forced.Kind);
        Assert.Equal(AlertSeverity.Critical, forced.Severity);
        Assert.Equal((at, at), (forced.StartedAt, forced.RaisedAt));
        Assert.Equal(("gate-1", "c1", "g2"), (forced.Device, forced.Community, forced.Grid));
        Assert.Equal(Alert.MakeId(AlertKinds.GateForced, "gate-1", at), forced.Id);

        var held = Assert.Single(detector.Observe(Gate("gate-1", Metrics.GateHeldOpen, at.AddSeconds(30))));
        Assert.Equal((AlertKinds.GateHeldOpen, AlertSeverity.Warning), (held.Kind, held.Severity));
    }

    [Fact]
    public void A_flapping_door_sensor_raises_once_until_it_has_been_quiet_for_the_cool_down()
    {
        var detector = NewDetector();
        var from = Day(3).AddHours(14);
        // Held open, closed, held open… every 20 seconds for an hour: 180 reports.
        var flapping = Enumerable.Range(0, 180).Select(i => Gate("gate-1", Metrics.GateHeldOpen, from.AddSeconds(20 * i)));

        var alerts = Run(detector, flapping);
        Assert.Equal(from, Assert.Single(alerts).StartedAt);

        // Two quiet hours later the door is held open again: that is news.
        var again = Assert.Single(detector.Observe(Gate("gate-1", Metrics.GateHeldOpen, from.AddHours(3))));
        Assert.Equal(from.AddHours(3), again.StartedAt);
        // Another gate has its own cool-down.
        Assert.Single(detector.Observe(Gate("gate-2", Metrics.GateHeldOpen, from.AddMinutes(5))));
    }

    [Fact]
    public void Far_more_night_passes_than_the_gate_usually_sees_are_raised_while_they_happen()
    {
        var detector = NewDetector();
        // Twenty passes a night for a week (the first night is not learned: the gate was not watched before it)…
        var week = Run(detector, Passes("gate-1", 1, 6, _ => 20));
        Assert.Empty(week);
        Assert.Equal(47, detector.NightThreshold("gate-1")); // 20 + 6·√20, rounded up

        // …then a hundred, one every three minutes from midnight.
        var alert = Assert.Single(Run(detector, Passes("gate-1", 7, 1, _ => 100)));
        Assert.Equal(AlertKinds.GateNightActivity, alert.Kind);
        Assert.Equal(AlertSeverity.Warning, alert.Severity);
        // Onset: the pass that went beyond the usual night (the 21st); raised at the 47th.
        Assert.Equal(Day(7).AddMinutes(3 * 20), alert.StartedAt);
        Assert.Equal(Day(7).AddMinutes(3 * 46), alert.RaisedAt);
        var point = Assert.Single(alert.Evidence.Points);
        Assert.Equal((20, 47), (point.Expected, point.Observed));
    }

    [Fact]
    public void Ordinary_variation_between_nights_is_not_unusual_and_nothing_is_judged_before_the_gate_is_known()
    {
        var detector = NewDetector();
        // The first three nights are busy (a festival), but nothing is known yet to compare them with.
        Assert.Empty(Run(detector, Passes("gate-1", 1, 3, _ => 90)));
        Assert.Null(detector.NightThreshold("gate-1"));
        // Then weekdays of 20 and weekends of 30.
        Assert.Empty(Run(detector, Passes("gate-1", 4, 14, d => d % 7 is 0 or 6 ? 30 : 20)));
    }

    [Fact]
    public void A_gate_nobody_uses_at_night_learns_empty_nights_and_alerts_on_a_handful_of_passes()
    {
        var detector = NewDetector();
        Assert.Empty(Run(detector, Passes("gate-3", 1, 5, _ => 0)));
        Assert.Equal(10, detector.NightThreshold("gate-3"));

        Assert.Empty(Run(detector, Passes("gate-3", 6, 1, _ => 5)));
        var alert = Assert.Single(Run(detector, Passes("gate-3", 7, 1, _ => 12)));
        Assert.Equal(Day(7), alert.StartedAt);
        Assert.Equal(Day(7).AddMinutes(300.0 * 9 / 12), alert.RaisedAt);
    }
}
