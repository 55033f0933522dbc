using Sensing.Analytics.EventTime;
using Sensing.Analytics.Facilities;
using Sensing.Telemetry;

namespace Sensing.Analytics.Tests;

/// <summary>Readings as ingest stores them for the facility detectors' tests, in Asia/Shanghai local time (+08:00).</summary>
internal static class FacilityFeed
{
    public static readonly TimeZoneInfo Zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
    public static readonly TimeSpan China = TimeSpan.FromHours(8);

    /// <summary>Midnight local time on 2026-11-<paramref name="day"/> (a Monday when day is 2).</summary>
    public static DateTimeOffset Day(int day) => new(2026, 11, day, 0, 0, 0, China);

    public static Reading Water(string device, string household, DateTimeOffset time, double used) =>
        new(device, "c1", "g1", household, Metrics.WaterConsumption, time.ToUniversalTime(), used);

    public static Reading Gate(string device, string metric, DateTimeOffset time, string direction = "in") =>
        new(device, "c1", "g2", null, metric, time.ToUniversalTime(), 1, direction);

    public static Reading Camera(string device, string evt, DateTimeOffset time, double count = 1, string? zone = "east-gate", string? attributes = null) =>
        new(device, "c1", "g3", null, Metrics.CameraPrefix + evt, time.ToUniversalTime(), count, zone, attributes);

    public static IEnumerable<Reading> Lot(string device, string lot, DateTimeOffset time, int free, int capacity)
    {
        yield return new Reading(device, "c1", "g4", null, Metrics.ParkingFree, time.ToUniversalTime(), free, lot);
        yield return new Reading(device, "c1", "g4", null, Metrics.ParkingCapacity, time.ToUniversalTime(), capacity, lot);
    }

    public static Reading Space(string device, string space, DateTimeOffset time, bool occupied) =>
        new(device, "c1", "g4", null, Metrics.ParkingOccupied, time.ToUniversalTime(), occupied ? 1 : 0, space);

    /// <summary>
    /// A water meter's consumption every 15 minutes from <paramref name="from"/> until <paramref name="until"/>, the
    /// way ingest derives it from a register that resolves a litre: <paramref name="flow"/> gives m³/h at each quarter
    /// hour's start (local time), the register accumulates it, and each reading is the whole litres it moved.
    /// </summary>
    public static IEnumerable<Reading> WaterMeter(string device, string household, DateTimeOffset from, DateTimeOffset until, Func<DateTimeOffset, double> flow)
    {
        var register = 0.0;
        var shown = 0.0;
        for (var t = from; t < until; t = t.AddMinutes(15))
        {
            register += flow(t.ToOffset(China)) / 4;
            var now = Math.Floor(register * 1000 + 1e-9) / 1000;
            yield return Water(device, household, t.AddMinutes(15), Math.Round(now - shown, 3));
            shown = now;
        }
    }

    /// <summary>Runs readings through a detector one by one, checking after each; returns every alert.</summary>
    public static List<Alert> Run(IReadingDetector detector, IEnumerable<Reading> readings)
    {
        var alerts = new List<Alert>();
        foreach (var reading in readings)
        {
            alerts.AddRange(detector.Observe(reading));
            alerts.AddRange(detector.Check(reading.Time));
        }
        return alerts;
    }

    /// <summary>The facility detectors with default options, unless told otherwise.</summary>
    /// <param name="hostClock">A clock the caller observes before each reading (as the analytics loop does); null: the detectors' own.</param>
    public static FacilityDetectors Detectors(Action<FacilityOptions>? configure = null, EventClock? hostClock = null)
    {
        var options = new FacilityOptions();
        configure?.Invoke(options);
        return new FacilityDetectors(options, Zone, hostClock);
    }
}
