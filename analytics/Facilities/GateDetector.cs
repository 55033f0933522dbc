using System.Globalization;
using Sensing.Analytics.Alerting;
using Sensing.Analytics.Norms;
using Sensing.Telemetry;

namespace Sensing.Analytics.Facilities;

/// <summary>
/// Watches access gates:
/// <list type="bullet">
/// <item><c>gate_forced</c> (critical) and <c>gate_held_open</c> (warning) at once, per event, with a sliding
/// cool-down per gate (<see cref="GateOptions.Cooldown"/>): a door sensor that flaps for an hour raises once.</item>
/// <item><c>gate_night_activity</c>: far more passes between <see cref="GateOptions.NightStart"/> and
/// <see cref="GateOptions.NightEnd"/> (local) than the gate's usual night (the median of its recent nights), judged
/// pass by pass so it is raised while it happens. A gate is judged once it has <see cref="GateOptions.NightsToLearn"/> nights.</item>
/// </list>
/// A night counts for learning only if the gate was reporting shortly before it (a gate that was dead or not yet
/// watched teaches nothing); a night without a single reading counts as zero passes. Only a gate's own readings move
/// its state, so any batching gives the same alerts. Not thread-safe.
/// </summary>
public sealed class GateDetector : IReadingDetector
{
    // A gate quiet for longer than this before a night may have been dead: that night teaches nothing.
    private static readonly TimeSpan s_reportingBefore = TimeSpan.FromHours(12);

    private readonly GateOptions _options;
    private readonly TimeZoneInfo _zone;
    private readonly AlertCooldown _cooldown;
    private readonly Dictionary<string, GateState> _gates = new(StringComparer.Ordinal);

    public GateDetector(GateOptions options, TimeZoneInfo zone)
    {
        _options = options;
        _zone = zone;
        _cooldown = new AlertCooldown(options.Cooldown);
    }

    /// <summary>The pass count from which a night of <paramref name="gate"/> is unusual, or null while it is still learning.</summary>
    public int? NightThreshold(string gate) =>
        _gates.TryGetValue(gate, out var state) && state.NightCount >= _options.NightsToLearn ? Threshold(state.UsualNight()) : null;

    public IReadOnlyList<Alert> Observe(in Reading reading)
    {
        // The door events alert; passes and denials only count towards the night.
        string? kind;
        switch (reading.Metric)
        {
            case Metrics.GatePass or Metrics.GateDenied: kind = null; break;
            case Metrics.GateForced: kind = AlertKinds.GateForced; break;
            case Metrics.GateHeldOpen: kind = AlertKinds.GateHeldOpen; break;
            default: return [];
        }
        var time = reading.Time.ToUniversalTime();
        if (!_gates.TryGetValue(reading.Device, out var gate)) _gates[reading.Device] = gate = new GateState();

        // A reading is either a door event or a pass (or a denial), so it completes at most one alert.
        Alert? alert = null;
        if (kind is not null && _cooldown.Admit(kind, reading.Device, time)) alert = DoorAlert(reading, kind, time);

        // Late readings neither count towards a night nor move the gate's clock.
        if (time < gate.LastSeen) return alert is null ? [] : [alert];
        var night = Night(gate, reading, time);
        gate.LastSeen = time;
        alert ??= night;
        return alert is null ? [] : [alert];
    }

    public IReadOnlyList<Alert> Check(DateTimeOffset watermark)
    {
        _cooldown.Forget(watermark);
        return [];
    }

    private Alert DoorAlert(in Reading reading, string kind, DateTimeOffset time)
    {
        var what = kind == AlertKinds.GateForced ? "its door forced open" : "its door held open";
        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "Gate {0} reported {1} at {2:HH:mm:ss} ({3}). Further reports within {4:0} min of each other are this same alert.",
            reading.Device, what, TimeZoneInfo.ConvertTime(time, _zone).DateTime, reading.Label ?? "no direction", _options.Cooldown.TotalMinutes);
        return new Alert
        {
            Id = Alert.MakeId(kind, reading.Device, time),
            Kind = kind,
            Severity = kind == AlertKinds.GateForced ? AlertSeverity.Critical : AlertSeverity.Warning,
            Community = reading.Community,
            Grid = reading.Grid,
            Device = reading.Device,
            StartedAt = time,
            RaisedAt = time,
            Evidence = new AlertEvidence(summary, [new EvidencePoint(time, reading.Metric, 0, reading.Value)]),
        };
    }

    /// <summary>Keeps the gate's night count; returns an alert when this pass makes the night unusual.</summary>
    private Alert? Night(GateState gate, in Reading reading, DateTimeOffset time)
    {
        if (gate.Night is { } open && time >= open.End)
        {
            if (open.Valid) gate.AddNight(open.Passes, _options.RecentNights);
            gate.Night = null;
        }
        var window = LocalWindows.Containing(time, _options.NightStart, _options.NightEnd, _zone);
        if (gate.Night is null)
        {
            // The last night the gate said nothing at all, while it had reported shortly before: zero passes.
            var previous = window is { } w ? LocalWindows.Window(LocalWindows.Date(w.Start, _zone).AddDays(-1), _options.NightStart, _options.NightEnd, _zone)
                : LastEnded(time);
            if (previous.End <= time && gate.LastSeen < previous.Start && gate.LastSeen >= previous.Start - s_reportingBefore)
                gate.AddNight(0, _options.RecentNights);
        }
        if (window is not { } night) return null;
        if (gate.Night is null)
        {
            var valid = gate.LastSeen != DateTimeOffset.MinValue && gate.LastSeen >= night.Start - s_reportingBefore;
            gate.Night = new NightCount(night.Start, night.End, valid);
        }
        var count = gate.Night;
        if (reading.Metric != Metrics.GatePass) return null;
        count.Passes++;
        if (!count.Valid || count.Alerted || gate.NightCount < _options.NightsToLearn) return null;
        var usual = gate.UsualNight();
        if (count.Passes > usual) count.ExceededAt ??= time;
        var threshold = Threshold(usual);
        if (count.Passes < threshold) return null;
        count.Alerted = true;
        if (!_cooldown.Admit(AlertKinds.GateNightActivity, reading.Device, time)) return null;

        var startedAt = count.ExceededAt ?? time;
        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "{0} passes through gate {1} since {2:HH:mm} tonight, where a night usually sees {3:0.#} (alerting from {4}).",
            count.Passes, reading.Device, TimeZoneInfo.ConvertTime(count.Start, _zone).DateTime, usual, threshold);
        return new Alert
        {
            Id = Alert.MakeId(AlertKinds.GateNightActivity, reading.Device, startedAt),
            Kind = AlertKinds.GateNightActivity,
            Severity = AlertSeverity.Warning,
            Community = reading.Community,
            Grid = reading.Grid,
            Device = reading.Device,
            StartedAt = startedAt,
            RaisedAt = time,
            Evidence = new AlertEvidence(summary, [new EvidencePoint(count.Start, Metrics.GatePass, Math.Round(usual, 2), count.Passes)]),
        };
    }

    /// <summary>Passes from which a night whose usual count is <paramref name="usual"/> is unusual.</summary>
    private int Threshold(double usual) =>
        (int)Math.Ceiling(Math.Max(_options.MinNightPasses, usual + _options.NightSigmas * Math.Sqrt(Math.Max(usual, 1))));

    /// <summary>The latest night window that closed at or before <paramref name="time"/>.</summary>
    private (DateTimeOffset Start, DateTimeOffset End) LastEnded(DateTimeOffset time)
    {
        var date = LocalWindows.Date(time, _zone);
        var window = LocalWindows.Window(date, _options.NightStart, _options.NightEnd, _zone);
        while (window.End > time)
        {
            date = date.AddDays(-1);
            window = LocalWindows.Window(date, _options.NightStart, _options.NightEnd, _zone);
        }
        return window;
    }

    private sealed class GateState
    {
        // Not readonly: a mutable struct (see RecentMedian).
        private RecentMedian<int> _nights;

        public DateTimeOffset LastSeen { get; set; } = DateTimeOffset.MinValue;
        public NightCount? Night { get; set; }
        /// <summary>Recent nights counted, at most the capacity.</summary>
        public int NightCount => _nights.Count;

        public void AddNight(int passes, int capacity) => _nights.Add(passes, capacity);

        /// <summary>Median passes of the recent nights.</summary>
        public double UsualNight() => _nights.Median();
    }

    private sealed class NightCount(DateTimeOffset start, DateTimeOffset end, bool valid)
    {
        public DateTimeOffset Start { get; } = start;
        public DateTimeOffset End { get; } = end;
        public bool Valid { get; } = valid;
        public int Passes { get; set; }
        public bool Alerted { get; set; }
        public DateTimeOffset? ExceededAt { get; set; }
    }
}
