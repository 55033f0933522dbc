using System.Globalization;
using System.Text.Json;
using Sensing.Analytics.Alerting;
using Sensing.Telemetry;

namespace Sensing.Analytics.Facilities;

/// <summary>
/// Raises <c>camera_event</c> from camera detections:
/// <list type="bullet">
/// <item><c>smoke</c> and <c>fire</c> at once (critical); <c>intrusion</c> at once (warning).</item>
/// <item><c>crowd</c> when the head count stays at or above the zone's threshold for <see cref="CameraOptions.CrowdFor"/>
/// (reports further apart than <see cref="CameraOptions.CrowdGap"/> are separate crowds). A crowd that gathers at
/// the same hour on most days (the morning rush at the east gate) is the zone's normal: that hour's threshold rises
/// to <see cref="CameraOptions.PatternFactor"/> × its usual crowd, learned from the last
/// <see cref="CameraOptions.PatternDays"/> days the camera reported on.</item>
/// </list>
/// Each camera + zone + event has a sliding cool-down (<see cref="CameraOptions.Cooldown"/>): fire reported every
/// 30 seconds while it burns is one alert. Only a camera's own readings move its state, so any batching gives the
/// same alerts. Not thread-safe.
/// </summary>
public sealed class CameraEventDetector : IReadingDetector
{
    private const string Crowd = "camera.crowd";
    private const string Smoke = "camera.smoke";
    private const string Fire = "camera.fire";
    private const string Intrusion = "camera.intrusion";

    private readonly CameraOptions _options;
    private readonly TimeZoneInfo _zone;
    private readonly AlertCooldown _cooldown;
    private readonly Dictionary<string, CameraState> _cameras = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Device, string Zone), ZoneState> _zones = new();

    public CameraEventDetector(CameraOptions options, TimeZoneInfo zone)
    {
        _options = options;
        _zone = zone;
        _cooldown = new AlertCooldown(options.Cooldown);
    }

    public IReadOnlyList<Alert> Observe(in Reading reading)
    {
        if (!reading.Metric.StartsWith(Metrics.CameraPrefix, StringComparison.Ordinal)) return [];
        var time = reading.Time.ToUniversalTime();
        if (!_cameras.TryGetValue(reading.Device, out var camera)) _cameras[reading.Device] = camera = new CameraState();
        // Every reading, heartbeats included, says the camera was watching on its local day.
        var today = camera.Day(time, _zone, _options.PatternDays);

        switch (reading.Metric)
        {
            case Smoke or Fire or Intrusion:
                if (!Counts(reading)) return [];
                return Immediate(reading, time) is { } alert ? [alert] : [];
            case Crowd:
                if (!Counts(reading)) return [];
                return CrowdAlert(reading, time, today, camera) is { } crowd ? [crowd] : [];
            default:
                return [];
        }
    }

    public IReadOnlyList<Alert> Check(DateTimeOffset watermark)
    {
        _cooldown.Forget(watermark);
        return [];
    }

    /// <summary>The head count from which a crowd in <paramref name="zone"/> of <paramref name="device"/> is reported at <paramref name="time"/>.</summary>
    public int CrowdThreshold(string device, string? zone, DateTimeOffset time)
    {
        var key = (device, zone ?? "");
        var basic = Basic(zone);
        if (!_zones.TryGetValue(key, out var state) || !_cameras.TryGetValue(device, out var camera)) return basic;
        var date = LocalWindows.Date(time, _zone);
        return Threshold(basic, state, camera, date, LocalWindows.Hour(time, _zone), out _);
    }

    private Alert? Immediate(in Reading reading, DateTimeOffset time)
    {
        var zone = reading.Label ?? "-";
        var what = reading.Metric[Metrics.CameraPrefix.Length..];
        var subject = $"{reading.Device}/{zone}/{what}";
        if (!_cooldown.Admit(AlertKinds.CameraEvent, subject, time)) return null;
        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "Camera {0} detected {1} in zone {2} at {3:HH:mm:ss}. Further {1} reports of this zone within {4:0} min of each other are this same alert.",
            reading.Device, what, zone, TimeZoneInfo.ConvertTime(time, _zone).DateTime, _options.Cooldown.TotalMinutes);
        return NewAlert(reading, subject, what == "intrusion" ? AlertSeverity.Warning : AlertSeverity.Critical, time, time, summary,
            [new EvidencePoint(time, reading.Metric, 0, reading.Value)]);
    }

    private Alert? CrowdAlert(in Reading reading, DateTimeOffset time, DateOnly today, CameraState camera)
    {
        var key = (reading.Device, reading.Label ?? "");
        if (!_zones.TryGetValue(key, out var zone)) _zones[key] = zone = new ZoneState();
        if (time < zone.Last) return null;
        zone.Last = time;
        var hour = LocalWindows.Hour(time, _zone);
        var count = (int)Math.Round(reading.Value);
        var threshold = Threshold(Basic(reading.Label), zone, camera, today, hour, out var usual);
        // Recorded after the threshold is taken: today's crowds teach tomorrow, not themselves.
        zone.Record(today, hour, count, _options.PatternDays);

        if (count < threshold)
        {
            zone.Since = null;
            return null;
        }
        if (zone.Since is null || time - zone.LastOver > _options.CrowdGap)
        {
            zone.Since = time;
            zone.Alerted = false;
            zone.Peak = 0;
            zone.First = count;
        }
        zone.LastOver = time;
        zone.Peak = Math.Max(zone.Peak, count);
        var since = zone.Since.Value;
        if (zone.Alerted || time - since < _options.CrowdFor) return null;
        zone.Alerted = true;
        var zoneName = reading.Label ?? "-";
        var subject = $"{reading.Device}/{zoneName}/crowd";
        if (!_cooldown.Admit(AlertKinds.CameraEvent, subject, time)) return null;

        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "A crowd of up to {0} people in zone {1} ({2}) for {3:0.#} min since {4:HH:mm}, at or above the zone's threshold of {5}{6}.",
            zone.Peak, zoneName, reading.Device, (time - since).TotalMinutes, TimeZoneInfo.ConvertTime(since, _zone).DateTime, threshold,
            usual > 0 ? string.Format(CultureInfo.InvariantCulture, " at this hour (its usual crowd then: {0:0})", usual) : "");
        return NewAlert(reading, subject, AlertSeverity.Warning, since, time, summary,
        [
            new EvidencePoint(since, Crowd, threshold, zone.First),
            new EvidencePoint(time, Crowd, threshold, count),
        ]);
    }

    private int Basic(string? zone) => zone is not null && _options.CrowdThresholds.TryGetValue(zone, out var own) ? own : _options.CrowdThreshold;

    /// <summary>
    /// The zone's threshold at <paramref name="hour"/> of <paramref name="today"/>: its configured one, raised when the
    /// days the camera watched mostly had a crowd around that hour (the median over those days of the largest count
    /// within an hour either side; a watched day without one counts as zero).
    /// </summary>
    private int Threshold(int basic, ZoneState zone, CameraState camera, DateOnly today, int hour, out double usual)
    {
        usual = 0;
        Span<int> peaks = stackalloc int[_options.PatternDays];
        var days = 0;
        foreach (var day in camera.Days)
        {
            if (day >= today || day < today.AddDays(-_options.PatternDays) || days == peaks.Length) continue;
            peaks[days++] = zone.PeakAround(day, hour);
        }
        if (days < _options.PatternMinDays) return basic;
        var watched = peaks[..days];
        watched.Sort();
        usual = days % 2 == 1 ? watched[days / 2] : (watched[days / 2 - 1] + watched[days / 2]) / 2.0;
        if (usual < basic) return basic;
        return (int)Math.Ceiling(usual * _options.PatternFactor);
    }

    /// <summary>False for a detection whose <c>score</c> attribute is below <see cref="CameraOptions.MinScore"/>.</summary>
    private bool Counts(in Reading reading)
    {
        if (_options.MinScore <= 0 || reading.Attributes is not { } attributes) return true;
        try
        {
            using var json = JsonDocument.Parse(attributes);
            return !json.RootElement.TryGetProperty("score", out var score) || score.ValueKind != JsonValueKind.Number || score.GetDouble() >= _options.MinScore;
        }
        catch (JsonException)
        {
            // Attributes are written by ingest as JSON; if they are not, the detection still counts.
            return true;
        }
    }

    private static Alert NewAlert(in Reading reading, string subject, AlertSeverity severity, DateTimeOffset startedAt, DateTimeOffset raisedAt, string summary, IReadOnlyList<EvidencePoint> points) => new()
    {
        Id = Alert.MakeId(AlertKinds.CameraEvent, subject, startedAt),
        Kind = AlertKinds.CameraEvent,
        Severity = severity,
        Community = reading.Community,
        Grid = reading.Grid,
        Device = reading.Device,
        StartedAt = startedAt,
        RaisedAt = raisedAt,
        Evidence = new AlertEvidence(summary, points),
    };

    /// <summary>A camera's watched local days; the current day's UTC span is cached so a heartbeat costs no time-zone conversion.</summary>
    private sealed class CameraState
    {
        private DateTimeOffset _dayStart = DateTimeOffset.MaxValue;
        private DateTimeOffset _dayEnd = DateTimeOffset.MinValue;
        private DateOnly _day;

        /// <summary>Local days with at least one reading, oldest first, at most a pattern's worth plus today.</summary>
        public List<DateOnly> Days { get; } = [];

        public DateOnly Day(DateTimeOffset time, TimeZoneInfo zone, int keep)
        {
            if (time >= _dayStart && time < _dayEnd) return _day;
            var day = LocalWindows.Date(time, zone);
            // A window from midnight to midnight is the local day.
            (_dayStart, _dayEnd) = LocalWindows.Window(day, TimeSpan.Zero, TimeSpan.Zero, zone);
            _day = day;
            if (!Days.Contains(day))
            {
                Days.Add(day);
                Days.Sort();
                while (Days.Count > keep + 1) Days.RemoveAt(0);
            }
            return day;
        }
    }

    /// <summary>One zone of one camera: the crowd under way and the largest count per local day and hour.</summary>
    private sealed class ZoneState
    {
        private readonly Dictionary<DateOnly, int[]> _peaks = [];

        public DateTimeOffset Last { get; set; } = DateTimeOffset.MinValue;
        public DateTimeOffset? Since { get; set; }
        public DateTimeOffset LastOver { get; set; }
        public bool Alerted { get; set; }
        public int Peak { get; set; }
        public int First { get; set; }

        public void Record(DateOnly day, int hour, int count, int keepDays)
        {
            if (!_peaks.TryGetValue(day, out var hours))
            {
                _peaks[day] = hours = new int[24];
                var oldest = day.AddDays(-keepDays);
                foreach (var old in _peaks.Keys.Where(d => d < oldest).ToList()) _peaks.Remove(old);
            }
            hours[hour] = Math.Max(hours[hour], count);
        }

        public int PeakAround(DateOnly day, int hour)
        {
            if (!_peaks.TryGetValue(day, out var hours)) return 0;
            var peak = hours[hour];
            if (hour > 0) peak = Math.Max(peak, hours[hour - 1]);
            if (hour < 23) peak = Math.Max(peak, hours[hour + 1]);
            return peak;
        }
    }
}
