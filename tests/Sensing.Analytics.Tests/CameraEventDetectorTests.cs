using Sensing.Analytics.Facilities;
using Sensing.Telemetry;
using static Sensing.Analytics.Tests.FacilityFeed;

namespace Sensing.Analytics.Tests;

public sealed class CameraEventDetectorTests
{
    private static CameraEventDetector NewDetector(Action<CameraOptions>? configure = null)
    {
        var options = new CameraOptions();
        configure?.Invoke(options);
        return new CameraEventDetector(options, Zone);
    }

    /// <summary>A crowd report every 30 s for <paramref name="minutes"/>, of <paramref name="count"/> people.</summary>
    private static IEnumerable<Reading> Crowd(string camera, string zone, DateTimeOffset from, double minutes, int count) =>
        Enumerable.Range(0, (int)(minutes * 2)).Select(i => Camera(camera, "crowd", from.AddSeconds(30 * i), count, zone));

    /// <summary>The camera's heartbeat every hour of a day: it was watching.</summary>
    private static IEnumerable<Reading> Heartbeats(string camera, DateTimeOffset day) =>
        Enumerable.Range(0, 24).Select(h => Camera(camera, "online", day.AddHours(h), zone: null));

    [Fact]
    public void Smoke_and_fire_are_critical_at_once_and_a_fire_reported_every_30_seconds_is_one_alert()
    {
        var detector = NewDetector();
        var onset = Day(3).AddHours(15);
        var readings = new List<Reading> { Camera("cam-7", "smoke", onset, zone: "garage-entry") };
        readings.AddRange(Enumerable.Range(1, 20).Select(i => Camera("cam-7", "fire", onset.AddSeconds(30 * i), zone: "garage-entry")));

        var alerts = Run(detector, readings);

        Assert.Equal(2, alerts.Count);
        var smoke = alerts[0];
        Assert.Equal((AlertKinds.CameraEvent, AlertSeverity.Critical, onset, onset), (smoke.Kind, smoke.Severity, smoke.StartedAt, smoke.RaisedAt));
        Assert.Equal(Alert.MakeId(AlertKinds.CameraEvent, "cam-7/garage-entry/smoke", onset), smoke.Id);
        Assert.Contains("smoke", smoke.Evidence.Summary, StringComparison.Ordinal);
        var fire = alerts[1];
        Assert.Equal((AlertSeverity.Critical, onset.AddSeconds(30)), (fire.Severity, fire.StartedAt));
        Assert.Contains("fire", fire.Evidence.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void An_intrusion_is_a_warning_per_zone()
    {
        var detector = NewDetector();
        var at = Day(3).AddHours(2);
        var first = Assert.Single(detector.Observe(Camera("cam-1", "intrusion", at, zone: "fire-lane")));
        Assert.Equal(AlertSeverity.Warning, first.Severity);
        Assert.Empty(detector.Observe(Camera("cam-1", "intrusion", at.AddMinutes(1), zone: "fire-lane")));
        Assert.Single(detector.Observe(Camera("cam-1", "intrusion", at.AddMinutes(1), zone: "playground")));
    }

    [Fact]
    public void A_crowd_is_raised_once_it_has_lasted_three_minutes_not_when_it_passes_by()
    {
        var detector = NewDetector();
        var from = Day(3).AddHours(15);
        // 37 at the east gate, as in the contract's example, for a minute: people streaming through.
        Assert.Empty(Run(detector, Crowd("cam-2", "east-gate", from, 1, 37)));

        var later = from.AddMinutes(30);
        var alert = Assert.Single(Run(detector, Crowd("cam-2", "east-gate", later, 10, 37)));
        Assert.Equal((later, later.AddMinutes(3)), (alert.StartedAt, alert.RaisedAt));
        Assert.Equal(Alert.MakeId(AlertKinds.CameraEvent, "cam-2/east-gate/crowd", later), alert.Id);
        Assert.All(alert.Evidence.Points, p => Assert.Equal((30, 37), (p.Expected, p.Observed)));
        // Below the threshold it is no crowd at all.
        Assert.Empty(Run(detector, Crowd("cam-2", "lobby", later, 10, 25)));
    }

    [Fact]
    public void Each_zone_may_have_its_own_threshold()
    {
        var detector = NewDetector(o => o.CrowdThresholds["square"] = 80);
        var from = Day(3).AddHours(19);
        Assert.Empty(Run(detector, Crowd("cam-3", "square", from, 10, 60)));
        Assert.Single(Run(detector, Crowd("cam-3", "square", from.AddHours(1), 10, 85)));
        Assert.Equal(80, detector.CrowdThreshold("cam-3", "square", from));
    }

    [Fact]
    public void The_daily_morning_crowd_at_the_gate_becomes_the_zones_normal_but_a_bigger_or_unusual_one_does_not()
    {
        var detector = NewDetector();
        var alerts = new List<Alert>();
        for (var d = 1; d <= 10; d++)
        {
            alerts.AddRange(Run(detector, Heartbeats("cam-4", Day(d)).Concat(Crowd("cam-4", "east-gate", Day(d).AddHours(8), 15, 45)).OrderBy(r => r.Time)));
        }
        // The first three mornings are news; from then on 45 at 08:00 is what the east gate looks like.
        Assert.Equal([Day(1).AddHours(8), Day(2).AddHours(8), Day(3).AddHours(8)], alerts.Select(a => a.StartedAt));
        Assert.Equal(68, detector.CrowdThreshold("cam-4", "east-gate", Day(11).AddHours(8).AddMinutes(5)));
        Assert.Equal(30, detector.CrowdThreshold("cam-4", "east-gate", Day(11).AddHours(14)));

        // On day 11, 50 at 08:00 is an ordinary morning, while the same 45 late in the evening is unusual…
        Assert.Empty(Run(detector, Crowd("cam-4", "east-gate", Day(11).AddHours(8), 15, 50)));
        var evening = Assert.Single(Run(detector, Crowd("cam-4", "east-gate", Day(11).AddHours(22), 10, 45)));
        Assert.Equal(Day(11).AddHours(22), evening.StartedAt);
        // …and so is 80 at 08:00 the next day.
        var crush = Assert.Single(Run(detector, Crowd("cam-4", "east-gate", Day(12).AddHours(8), 15, 80)));
        Assert.Contains("usual crowd then: 45", crush.Evidence.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Detections_below_the_minimum_score_are_ignored()
    {
        var detector = NewDetector(o => o.MinScore = 0.5);
        var at = Day(3).AddHours(3);
        Assert.Empty(detector.Observe(Camera("cam-5", "smoke", at, attributes: "{\"score\":0.21}")));
        Assert.Single(detector.Observe(Camera("cam-5", "smoke", at.AddSeconds(5), attributes: "{\"score\":0.93}")));
    }
}
