using Sensing.Analytics.Facilities;
using Sensing.Telemetry;
using static Sensing.Analytics.Tests.FacilityFeed;

namespace Sensing.Analytics.Tests;

public sealed class WaterLeakDetectorTests
{
    private static WaterLeakDetector NewDetector(WaterLeakOptions? options = null) => new(options ?? new WaterLeakOptions(), Zone);

    /// <summary>A working family: showers and cooking morning and evening, a glass of water now and then at night (2 L/h on average).</summary>
    private static double Family(DateTimeOffset local) => local.Hour switch
    {
        >= 6 and < 9 => 0.09,
        >= 18 and < 22 => 0.07,
        >= 9 and < 18 => 0.01,
        _ => 0.002,
    };

    [Fact]
    public void Water_flowing_all_night_in_an_empty_flat_is_a_leak_from_when_it_began()
    {
        var detector = NewDetector();
        var leakFrom = Day(2).AddHours(14);
        var alerts = Run(detector, WaterMeter("wm-1", "h-1", Day(1), Day(3).AddHours(12), t => t >= leakFrom ? 0.04 : 0));

        var alert = Assert.Single(alerts);
        Assert.Equal(AlertKinds.WaterLeak, alert.Kind);
        Assert.Equal(AlertSeverity.Warning, alert.Severity);
        Assert.Equal(("wm-1", "h-1", "c1", "g1"), (alert.Device, alert.Household, alert.Community, alert.Grid));
        // Onset: when the water started and never stopped; raised by the reading that closed the night at 05:00.
        Assert.Equal(leakFrom, alert.StartedAt);
        Assert.Equal(Day(3).AddHours(5), alert.RaisedAt);
        Assert.Equal(Alert.MakeId(AlertKinds.WaterLeak, "wm-1", leakFrom), alert.Id);
        // One point per night hour: the floor against the mean flow.
        Assert.Equal(4, alert.Evidence.Points.Count);
        Assert.All(alert.Evidence.Points, p => Assert.Equal((0.03, 0.04), (p.Expected, p.Observed)));
        Assert.Equal(Day(3).AddHours(1), alert.Evidence.Points[0].Time);
        Assert.Contains("at least 40 L/h", alert.Evidence.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void A_household_that_sips_at_night_or_washes_at_2am_never_cries_wolf()
    {
        var detector = NewDetector();
        // Two weeks; every night the washing machine runs 02:00–02:45 at 200 L/h.
        double Flow(DateTimeOffset local) => local.Hour == 2 && local.Minute < 45 ? 0.2 : Family(local);

        Assert.Empty(Run(detector, WaterMeter("wm-2", "h-2", Day(1), Day(15), Flow)));
        // The empty quarter hours of its nights taught it the lowest floor.
        Assert.Equal(0.01, detector.NightFloor("wm-2"));
    }

    [Fact]
    public void A_slow_filling_tank_is_excused_by_the_households_own_nights_but_a_leak_on_top_is_not()
    {
        var detector = NewDetector();
        var leakFrom = Day(9).AddHours(10);
        // 12 L/h into a tank day and night: above the 10 L/h floor of a household whose nights are empty.
        double Flow(DateTimeOffset local) => Family(local) + 0.012 + (local >= leakFrom ? 0.02 : 0);

        var alerts = Run(detector, WaterMeter("wm-3", "h-3", Day(1), Day(12), Flow));

        // Eight clean nights: the floor is twice the tank's usual lowest flow (12 L/h once the litres are counted).
        var alert = Assert.Single(alerts);
        Assert.Equal(Day(10).AddHours(5), alert.RaisedAt);
        Assert.Equal(0.024, alert.Evidence.Points[0].Expected, 3);
        Assert.True(alert.StartedAt >= Day(9) && alert.StartedAt <= leakFrom, $"onset {alert.StartedAt}");
    }

    [Fact]
    public void A_leak_below_the_excused_flow_is_found_once_the_households_nights_are_known()
    {
        // 15 L/h: too little to call on a household we know nothing about…
        var unknown = NewDetector();
        Assert.Empty(Run(unknown, WaterMeter("wm-4", "h-4", Day(1), Day(4).AddHours(12), t => Family(t) + 0.015)));

        // …but plain in one whose nights are usually empty.
        var known = NewDetector();
        var leakFrom = Day(5).AddHours(20);
        var alert = Assert.Single(Run(known, WaterMeter("wm-4", "h-4", Day(1), Day(7), t => Family(t) + (t >= leakFrom ? 0.015 : 0))));
        Assert.Equal(Day(6).AddHours(5), alert.RaisedAt);
        Assert.Equal(0.01, alert.Evidence.Points[0].Expected);
    }

    [Fact]
    public void A_burst_pipe_is_critical_within_two_hours_and_raised_once()
    {
        var detector = NewDetector();
        var burst = Day(4).AddHours(10);
        var alerts = Run(detector, WaterMeter("wm-5", "h-5", Day(1), Day(5).AddHours(12),
            t => t >= burst && t < burst.AddHours(3) ? 0.5 : Family(t)));

        var alert = Assert.Single(alerts);
        Assert.Equal(AlertSeverity.Critical, alert.Severity);
        Assert.Equal(burst, alert.StartedAt);
        Assert.Equal(burst.AddHours(2), alert.RaisedAt);
        Assert.Contains("burst", alert.Evidence.Summary, StringComparison.Ordinal);
        Assert.All(alert.Evidence.Points, p => Assert.Equal(0.5, p.Observed));
        // One point per reading of the run, at the reading's time, against the burst flow; the volume from their mean.
        Assert.Equal(Enumerable.Range(1, 8).Select(i => burst.AddMinutes(15 * i)), alert.Evidence.Points.Select(p => p.Time));
        Assert.All(alert.Evidence.Points, p => Assert.Equal(0.3, p.Expected));
        Assert.All(alert.Evidence.Points, p => Assert.Equal("water.flow", p.Metric));
        Assert.Contains("(2 h, about 1.0 m³)", alert.Evidence.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void A_leak_over_several_nights_is_one_alert_and_a_new_leak_after_a_repair_is_another()
    {
        var detector = NewDetector();
        var first = Day(2).AddHours(12);
        var repaired = Day(5).AddHours(9);
        var second = Day(8).AddHours(16);
        double Flow(DateTimeOffset local) => Family(local) + (local >= first && local < repaired || local >= second ? 0.05 : 0);

        var alerts = Run(detector, WaterMeter("wm-6", "h-6", Day(1), Day(10), Flow));

        Assert.Equal(2, alerts.Count);
        Assert.Equal(Day(3).AddHours(5), alerts[0].RaisedAt);
        Assert.Equal(Day(9).AddHours(5), alerts[1].RaisedAt);
        Assert.NotEqual(alerts[0].Id, alerts[1].Id);
        Assert.True(alerts[1].StartedAt >= second.AddHours(-2), $"second onset {alerts[1].StartedAt}");
    }

    [Fact]
    public void A_night_with_a_gap_in_the_readings_is_not_judged()
    {
        var detector = NewDetector();
        var leakFrom = Day(2).AddHours(12);
        // The meter says nothing from 02:00 to 03:30 of the first leaking night.
        var gap = (From: Day(3).AddHours(2), To: Day(3).AddHours(3.5));
        var readings = WaterMeter("wm-7", "h-7", Day(1), Day(4).AddHours(12), t => t >= leakFrom ? 0.04 : 0)
            .Where(r => r.Time <= gap.From || r.Time > gap.To);

        var alert = Assert.Single(Run(detector, readings));
        // Not the night with the gap, but the next one; and the flow is only known to be unbroken since the first
        // reading after the gap.
        Assert.Equal(Day(4).AddHours(5), alert.RaisedAt);
        Assert.Equal(gap.To.AddMinutes(15), alert.StartedAt);
    }

    [Fact]
    public void Duplicates_late_readings_and_other_metrics_change_nothing()
    {
        var detector = NewDetector();
        var leakFrom = Day(2).AddHours(14);
        var readings = new List<Reading>();
        foreach (var reading in WaterMeter("wm-8", "h-8", Day(1), Day(3).AddHours(12), t => t >= leakFrom ? 0.04 : 0))
        {
            readings.Add(reading);
            readings.Add(reading);                                                                  // QoS 1 redelivery
            readings.Add(reading with { Time = reading.Time.AddMinutes(-20), Value = 5 });          // a late straggler
            readings.Add(reading with { Metric = Metrics.ElectricityConsumption, Value = 9 });      // not water
        }

        var alert = Assert.Single(Run(detector, readings));
        Assert.Equal((leakFrom, Day(3).AddHours(5)), (alert.StartedAt, alert.RaisedAt));
    }
}
