using Sensing.Analytics.EventTime;
using Sensing.Analytics.Facilities;
using Sensing.Analytics.Silence;
using Sensing.Telemetry;
using static Sensing.Analytics.Tests.FacilityFeed;

namespace Sensing.Analytics.Tests;

/// <summary>
/// Replays at any speed give identical alerts: the same readings cut into batches of any size, with the checks
/// running after every batch or hardly ever, raise the same alerts with the same ids and event times.
/// </summary>
public sealed class FacilityReplayTests
{
    /// <summary>Four days of a small estate in which every facility detector has something to say.</summary>
    private static List<Reading> Estate()
    {
        var readings = new List<Reading>();
        var leakFrom = Day(2).AddHours(14);
        readings.AddRange(WaterMeter("wm-1", "h-1", Day(1), Day(5), t => t >= leakFrom ? 0.04 : 0));
        readings.AddRange(WaterMeter("wm-2", "h-2", Day(1), Day(5), t => t.Hour is >= 7 and < 9 ? 0.1 : t.Hour == 2 && t.Minute < 45 ? 0.2 : 0.001));
        readings.AddRange(WaterMeter("wm-3", "h-3", Day(1), Day(5), t => t >= Day(3).AddHours(9) && t < Day(3).AddHours(12) ? 0.6 : 0.002));

        // The lot is full for 40 minutes every evening, and for a minute or two now and then.
        for (var t = Day(1); t < Day(5); t = t.AddMinutes(1))
        {
            var full = t.Hour == 18 && t.Minute < 40 || t.Hour == 12 && t.Minute < 2;
            readings.AddRange(Lot("lot-P1", "P1", t, full ? 0 : 40, 200));
        }
        readings.Add(Space("lot-P1", "fire-1", Day(3).AddHours(10), true));
        readings.Add(Space("lot-P1", "fire-1", Day(3).AddHours(12), false));
        readings.Add(Space("lot-P1", "fire-1", Day(4).AddHours(20), true));

        for (var t = Day(1); t < Day(5); t = t.AddMinutes(7))
        {
            if (t.ToOffset(China).Hour is >= 5 or 0) readings.Add(Gate("gate-1", Metrics.GatePass, t));
        }
        for (var i = 0; i < 80; i++) readings.Add(Gate("gate-1", Metrics.GatePass, Day(4).AddHours(1).AddMinutes(i)));
        readings.Add(Gate("gate-1", Metrics.GateForced, Day(2).AddHours(3)));
        for (var i = 0; i < 90; i++) readings.Add(Gate("gate-1", Metrics.GateHeldOpen, Day(3).AddHours(13).AddSeconds(40 * i)));

        for (var t = Day(1); t < Day(5); t = t.AddMinutes(1)) readings.Add(Camera("cam-1", "online", t, zone: null));
        readings.Add(Camera("cam-1", "smoke", Day(2).AddHours(16), zone: "garage-entry"));
        for (var i = 1; i < 40; i++) readings.Add(Camera("cam-1", "fire", Day(2).AddHours(16).AddSeconds(30 * i), zone: "garage-entry"));
        for (var i = 0; i < 20; i++) readings.Add(Camera("cam-1", "crowd", Day(3).AddHours(21).AddSeconds(30 * i), 42, "square"));
        // A second camera dies on the third morning.
        for (var t = Day(1); t < Day(3).AddHours(6); t = t.AddMinutes(1)) readings.Add(Camera("cam-2", "online", t, zone: null));

        // Ingest stores in arrival order: by time, a device's readings in their own order.
        return [.. readings.OrderBy(r => r.Time)];
    }

    private static List<Alert> Replay(List<Reading> readings, int batchSize, bool checkEveryBatch)
    {
        var detectors = Detectors(o =>
        {
            o.Parking.Overstays = [new OverstayRule { Spaces = "fire-*", Limit = TimeSpan.FromMinutes(15) }];
            o.Gate.NightsToLearn = 2;
        });
        var silence = new SilenceWatch(new SilenceOptions(), id => new Device(id, id[..id.IndexOf('-')] switch
        {
            "gate" => DeviceKind.Gate,
            "cam" => DeviceKind.Camera,
            "lot" => DeviceKind.Parking,
            _ => DeviceKind.Meter,
        }, "c1", "g1"));
        var alerts = new List<Alert>();
        var watermark = DateTimeOffset.MinValue;
        foreach (var batch in readings.Chunk(batchSize))
        {
            foreach (var reading in batch)
            {
                alerts.AddRange(detectors.Observe(reading));
                if (silence.Observe(reading.Device, reading.Community, reading.Grid, reading.Time) is { } ended) alerts.Add(ended);
                if (reading.Time > watermark) watermark = reading.Time;
            }
            if (!checkEveryBatch) continue;
            alerts.AddRange(detectors.Check(watermark));
            alerts.AddRange(silence.Check(watermark));
        }
        alerts.AddRange(detectors.Check(watermark));
        alerts.AddRange(silence.Check(watermark));
        return alerts;
    }

    private static IEnumerable<string> Canonical(List<Alert> alerts) =>
        alerts.OrderBy(a => a.RaisedAt).ThenBy(a => a.Id, StringComparer.Ordinal)
            .Select(a => $"{a.Id} {a.Kind} {a.Severity} {a.Device} {a.StartedAt:O} {a.RaisedAt:O} {a.Evidence.Summary} {string.Join(";", a.Evidence.Points)}");

    [Fact]
    public void The_same_readings_in_any_batches_raise_the_same_alerts()
    {
        var readings = Estate();
        var reference = Replay(readings, 1, checkEveryBatch: true);

        // Every detector spoke: a night leak, a burst, parking full every evening, two overstays (one found by the
        // reading that ended it when checks are rare), a forced gate, a held-open door, a busy night, smoke, fire, a
        // crowd, and a camera that died.
        var kinds = reference.GroupBy(a => a.Kind).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, kinds[AlertKinds.WaterLeak]);
        Assert.Equal(4, kinds[AlertKinds.ParkingFull]);
        Assert.Equal(2, kinds[AlertKinds.ParkingOverstay]);
        Assert.Equal(1, kinds[AlertKinds.GateForced]);
        Assert.Equal(1, kinds[AlertKinds.GateHeldOpen]);
        Assert.Equal(1, kinds[AlertKinds.GateNightActivity]);
        Assert.Equal(3, kinds[AlertKinds.CameraEvent]);
        Assert.Equal("cam-2", Assert.Single(reference, a => a.Kind == AlertKinds.DeviceSilent).Device);

        foreach (var (size, often) in new[] { (7, true), (500, true), (100_000, true), (readings.Count, true), (313, false) })
        {
            var replayed = Replay(readings, size, often);
            Assert.Equal(Canonical(reference), Canonical(replayed));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // judged by the host's clock, as in the analytics loop
    public void A_device_whose_clock_runs_hours_ahead_neither_ends_cool_downs_nor_overstays_every_car(bool hostsClock)
    {
        var hostClock = hostsClock ? new EventClock(FacilityDetectors.FeedLead) : null;
        var detectors = Detectors(o => o.Parking.Overstays = [new OverstayRule { Spaces = "fire-*", Limit = TimeSpan.FromHours(1) }], hostClock);
        var fire = Day(3).AddHours(15);
        var readings = new List<Reading> { Space("lot-P1", "fire-1", fire, true) };
        for (var i = 0; i < 40; i++)
        {
            readings.Add(Camera("cam-1", "fire", fire.AddSeconds(30 * i), zone: "garage-entry"));
            // Forty ordinary cameras, and one whose clock is eight hours fast.
            for (var c = 0; c < 40; c++) readings.Add(Camera($"cam-ok-{c}", "online", fire.AddSeconds(30 * i + c % 30), zone: null));
            readings.Add(Camera("cam-fast", "online", fire.AddSeconds(30 * i).AddHours(8), zone: null));
        }

        // Checked after every reading with the plain watermark, which the fast camera drags eight hours ahead.
        var alerts = new List<Alert>();
        var watermark = DateTimeOffset.MinValue;
        foreach (var reading in readings)
        {
            hostClock?.Observe(reading.Device, reading.Time);
            alerts.AddRange(detectors.Observe(reading));
            if (reading.Time > watermark) watermark = reading.Time;
            alerts.AddRange(detectors.Check(watermark));
        }

        // One fire alert, and the car in the fire lane (20 minutes so far) is not an overstay.
        Assert.Equal(AlertKinds.CameraEvent, Assert.Single(alerts).Kind);
        if (hostClock is not null) Assert.Equal(43, hostClock.Devices);
    }

    [Fact]
    public void A_shared_clock_must_have_the_detectors_lead() =>
        Assert.Throws<ArgumentException>(() => Detectors(hostClock: new EventClock(TimeSpan.FromHours(1))));
}
