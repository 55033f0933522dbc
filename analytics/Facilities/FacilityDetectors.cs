using Sensing.Analytics.EventTime;
using Sensing.Telemetry;

namespace Sensing.Analytics.Facilities;

/// <summary>
/// The four facility detectors behind one <see cref="IReadingDetector"/>, so the analytics loop wires one object:
/// each reading goes to the detector of its device kind (by metric prefix), and <see cref="Check"/> to all of them.
/// The watermark a check receives is first judged by an <see cref="EventClock"/> over every reading seen, so a device
/// whose clock runs hours ahead cannot end every cool-down early (a fire reported every 30 s would ring every
/// batch) or overstay every parked car at once.
/// </summary>
public sealed class FacilityDetectors : IReadingDetector
{
    private readonly EventClock _clock = new(TimeSpan.FromMinutes(15));

    public FacilityDetectors(FacilityOptions options, TimeZoneInfo zone)
    {
        WaterLeak = new WaterLeakDetector(options.WaterLeak, zone);
        Parking = new ParkingDetector(options.Parking, zone);
        Gates = new GateDetector(options.Gate, zone);
        Cameras = new CameraEventDetector(options.Camera, zone);
    }

    public WaterLeakDetector WaterLeak { get; }
    public ParkingDetector Parking { get; }
    public GateDetector Gates { get; }
    public CameraEventDetector Cameras { get; }

    public IReadOnlyList<Alert> Observe(in Reading reading)
    {
        _clock.Observe(reading.Device, reading.Time);
        var metric = reading.Metric;
        // Meters' electricity and registers, camera heartbeats and detections: most readings end here at once.
        if (metric == Metrics.WaterConsumption) return WaterLeak.Observe(reading);
        if (metric.StartsWith("camera.", StringComparison.Ordinal)) return Cameras.Observe(reading);
        if (metric.StartsWith("gate.", StringComparison.Ordinal)) return Gates.Observe(reading);
        if (metric.StartsWith("parking.", StringComparison.Ordinal)) return Parking.Observe(reading);
        return [];
    }

    public IReadOnlyList<Alert> Check(DateTimeOffset watermark)
    {
        watermark = _clock.Judge(watermark);
        var overstays = Parking.Check(watermark);
        WaterLeak.Check(watermark);
        Gates.Check(watermark);
        Cameras.Check(watermark);
        return overstays;
    }
}
