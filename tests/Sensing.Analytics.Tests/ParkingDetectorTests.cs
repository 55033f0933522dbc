using Sensing.Analytics.Facilities;
using Sensing.Telemetry;
using static Sensing.Analytics.Tests.FacilityFeed;

namespace Sensing.Analytics.Tests;

public sealed class ParkingDetectorTests
{
    private static readonly DateTimeOffset Evening = Day(2).AddHours(18);

    private static ParkingDetector NewDetector(Action<ParkingOptions>? configure = null)
    {
        var options = new ParkingOptions
        {
            Overstays =
            [
                new OverstayRule { Spaces = "fire-*", Limit = TimeSpan.FromMinutes(15), Severity = AlertSeverity.Critical },
                new OverstayRule { Spaces = "V*", Devices = "lot-P3*", Limit = TimeSpan.FromHours(24) },
            ],
        };
        configure?.Invoke(options);
        return new ParkingDetector(options, Zone);
    }

    /// <summary>A 200-space lot counter reporting every minute; <paramref name="free"/> gives the free count per minute from the start.</summary>
    private static IEnumerable<Reading> Counter(DateTimeOffset from, int minutes, Func<int, int> free) =>
        Enumerable.Range(0, minutes).SelectMany(m => Lot("lot-P1", "P1", from.AddMinutes(m), free(m), 200));

    [Fact]
    public void A_lot_full_for_ten_minutes_is_raised_once_from_when_it_filled()
    {
        var detector = NewDetector();
        // 30 free until 18:20, then 0–3 free (the full mark of 200 spaces is 4) for 40 minutes.
        var alerts = Run(detector, Counter(Evening, 90, m => m < 20 ? 30 : m < 60 ? m % 4 : 25));

        var alert = Assert.Single(alerts);
        Assert.Equal(AlertKinds.ParkingFull, alert.Kind);
        Assert.Equal(Evening.AddMinutes(20), alert.StartedAt);
        Assert.Equal(Evening.AddMinutes(30), alert.RaisedAt);
        Assert.Equal(("lot-P1", "c1", "g4"), (alert.Device, alert.Community, alert.Grid));
        Assert.Equal(Alert.MakeId(AlertKinds.ParkingFull, "lot-P1/P1", Evening.AddMinutes(20)), alert.Id);
        Assert.Equal(4, alert.Evidence.Points[0].Expected);
        Assert.Equal(4, detector.FullMark(200));
        Assert.Equal(0, detector.FullMark(20));
    }

    [Fact]
    public void A_lot_full_for_two_minutes_is_not_an_alert()
    {
        var detector = NewDetector();
        Assert.Empty(Run(detector, Counter(Evening, 60, m => m is >= 10 and < 12 ? 0 : 12)));
    }

    [Fact]
    public void A_lot_that_keeps_filling_up_is_one_alert_per_cool_down()
    {
        var detector = NewDetector();
        // Full for 15 minutes, a few spaces for 5, full again for 15: one story.
        var alerts = Run(detector, Counter(Evening, 40, m => m is >= 15 and < 20 ? 10 : 0));
        Assert.Single(alerts);

        // It empties, and two hours later fills up again: a new alert.
        Assert.Empty(Run(detector, Counter(Evening.AddMinutes(40), 140, _ => 50)));
        var later = Run(detector, Counter(Evening.AddHours(3), 30, _ => 0));
        Assert.Equal(Evening.AddHours(3), Assert.Single(later).StartedAt);
    }

    [Fact]
    public void The_pair_is_judged_once_in_whichever_order_it_was_stored()
    {
        var forwards = Run(NewDetector(), Counter(Evening, 30, _ => 0));
        var backwards = Run(NewDetector(), Counter(Evening, 30, _ => 0).Chunk(2).SelectMany(pair => pair.Reverse()));
        Assert.Equal(forwards.Select(a => (a.Id, a.RaisedAt)), backwards.Select(a => (a.Id, a.RaisedAt)));
        Assert.Single(forwards);
    }

    [Fact]
    public void A_car_in_the_fire_lane_is_raised_when_its_limit_passes_once_per_stay()
    {
        var detector = NewDetector();
        var parked = Day(3).AddHours(10);
        Assert.Empty(detector.Observe(Space("lot-P1", "fire-2", parked, occupied: true)));
        // The sensor repeats itself; that does not restart the stay.
        Assert.Empty(detector.Observe(Space("lot-P1", "fire-2", parked.AddMinutes(10), occupied: true)));
        Assert.Empty(detector.Check(parked.AddMinutes(14)));
        Assert.Empty(detector.Check(parked.AddMinutes(15)));

        var alert = Assert.Single(detector.Check(parked.AddMinutes(16)));
        Assert.Equal(AlertKinds.ParkingOverstay, alert.Kind);
        Assert.Equal(AlertSeverity.Critical, alert.Severity);
        Assert.Equal((parked, parked.AddMinutes(15)), (alert.StartedAt, alert.RaisedAt));
        Assert.Empty(detector.Check(parked.AddHours(3)));
        Assert.Empty(detector.Observe(Space("lot-P1", "fire-2", parked.AddHours(3), occupied: false)));

        // The next car is a new stay.
        var next = Assert.Single(Run(detector, [Space("lot-P1", "fire-2", parked.AddHours(5), true), Space("lot-P1", "fire-2", parked.AddHours(6), false)]));
        Assert.Equal(parked.AddHours(5), next.StartedAt);
        Assert.NotEqual(alert.Id, next.Id);
    }

    [Fact]
    public void An_overstay_no_check_caught_is_raised_by_the_reading_that_ends_it_with_the_same_alert()
    {
        var parked = Day(3).AddHours(9);
        var readings = new[] { Space("lot-P3", "V-07", parked, true), Space("lot-P3", "V-07", parked.AddHours(30), false) };

        var checkedDetector = NewDetector();
        checkedDetector.Observe(readings[0]);
        var caught = Assert.Single(checkedDetector.Check(parked.AddHours(25)));
        Assert.Empty(checkedDetector.Observe(readings[1]));

        var uncheckedDetector = NewDetector();
        uncheckedDetector.Observe(readings[0]);
        var ended = Assert.Single(uncheckedDetector.Observe(readings[1]));

        Assert.Equal((caught.Id, caught.StartedAt, caught.RaisedAt, caught.Severity), (ended.Id, ended.StartedAt, ended.RaisedAt, ended.Severity));
        Assert.Equal(parked.AddHours(24), ended.RaisedAt);
        Assert.Equal(AlertSeverity.Warning, ended.Severity);
    }

    [Fact]
    public void Spaces_no_rule_matches_are_never_overstayed()
    {
        var detector = NewDetector();
        var parked = Day(3);
        // A resident's own space, and a visitors' space of a lot the visitor rule does not name.
        Assert.Empty(Run(detector, [Space("lot-P1", "A-101", parked, true), Space("lot-P1", "V-01", parked, true)]));
        Assert.Empty(detector.Check(parked.AddDays(5)));
    }
}
