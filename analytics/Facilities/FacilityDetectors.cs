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
    /// <summary>How far past the feed's clock one device's reading may move it on its own (see <see cref="EventClock"/>).</summary>
    public static readonly TimeSpan FeedLead = TimeSpan.FromMinutes(15);

    private readonly EventClock _clock;
    // False when the host's clock is shared: the host observes each reading on it before handing the reading here.
    private readonly bool _observesClock;

    /// <param name="feedClock">
    /// The host's clock over exactly the readings it hands these detectors, observed by the host before each is handed
    /// on (the analytics loop's; lead <see cref="FeedLead"/>), so a street office's devices are not mapped to their
    /// latest time once more. Null: the detectors keep their own.
    /// </param>
    public FacilityDetectors(FacilityOptions options, TimeZoneInfo zone, EventClock? feedClock = null)
    {
        (_clock, _observesClock) = EventClock.OwnOrShared(feedClock, FeedLead);
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
        if (_observesClock) _clock.Observe(reading.Device, reading.Time);
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
