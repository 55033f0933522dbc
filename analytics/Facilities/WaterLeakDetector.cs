using System.Globalization;
using Sensing.Analytics.Alerting;
using Sensing.Analytics.Norms;
using Sensing.Telemetry;

namespace Sensing.Analytics.Facilities;

/// <summary>
/// Raises <c>water_leak</c> from each water meter's <c>water.consumption</c> readings, by two rules:
/// <list type="bullet">
/// <item><b>Night flow</b> (minimum night flow, as water utilities measure it): in a household nobody uses water in
/// every quarter hour of the small hours, so a night (<see cref="WaterLeakOptions.NightStart"/>–<see cref="WaterLeakOptions.NightEnd"/>
/// local) in which every interval flowed at least the household's floor is a leak. The floor is learned from the
/// household's own clean nights (their usual lowest flow × <see cref="WaterLeakOptions.BaselineFactor"/>), so a
/// slow-filling tank does not cry wolf, and a washing machine run at 2 a.m. never does: it leaves other quarter hours empty.
/// One alert per leak episode (consecutive leaking nights), raised by the reading that closes the night.</item>
/// <item><b>Burst</b>: at least <see cref="WaterLeakOptions.BurstFlow"/> without a break for <see cref="WaterLeakOptions.BurstDuration"/>,
/// at any hour, raised as soon as it has lasted that long.</item>
/// </list>
/// A reading covers the time since the meter's previous one; gaps longer than <see cref="WaterLeakOptions.MaxInterval"/>
/// say nothing about continuity, so a night with one is not judged (a silent meter is <c>device_silent</c>'s matter).
/// Only a meter's own readings move its state, so any batching gives the same alerts. Not thread-safe.
/// </summary>
public sealed class WaterLeakDetector : IReadingDetector
{
    private const string FlowMetric = "water.flow";
    private const int MaxBurstPoints = 24;

    private readonly WaterLeakOptions _options;
    private readonly TimeZoneInfo _zone;
    private readonly AlertCooldown _cooldown;
    private readonly Dictionary<string, MeterState> _meters = new(StringComparer.Ordinal);

    public WaterLeakDetector(WaterLeakOptions options, TimeZoneInfo zone)
    {
        _options = options;
        _zone = zone;
        _cooldown = new AlertCooldown(options.Cooldown);
    }

    /// <summary>
    /// The flow (m³/h) below which a night interval of <paramref name="device"/> counts as "stopped": learned from its
    /// clean nights once it has enough, else <see cref="WaterLeakOptions.MaxExcusedNightFlow"/>.
    /// </summary>
    public double NightFloor(string device) => _meters.TryGetValue(device, out var meter) ? Floor(meter) : _options.MaxExcusedNightFlow;

    public IReadOnlyList<Alert> Observe(in Reading reading)
    {
        if (reading.Metric != Metrics.WaterConsumption) return [];
        var time = reading.Time.ToUniversalTime();
        if (!_meters.TryGetValue(reading.Device, out var meter))
        {
            // The interval this reading closes began before we were watching: it only marks where the next begins.
            _meters[reading.Device] = new MeterState(time);
            return [];
        }
        // A duplicate or a late reading: its interval was counted, or cannot be placed.
        if (time <= meter.Last) return [];
        var from = meter.Last;
        meter.Last = time;
        if (time - from > _options.MaxInterval)
        {
            meter.Break();
            return [];
        }

        var rate = Math.Max(0, reading.Value) / (time - from).TotalHours;
        var floor = Floor(meter);
        meter.FlowingSince = rate >= floor ? meter.FlowingSince ?? from : null;

        List<Alert>? alerts = null;
        if (Burst(meter, reading, from, time, rate) is { } burst) (alerts ??= []).Add(burst);
        // Most intervals lie outside the night: the meter's next window is kept, so they cost one comparison.
        var window = meter.NextNight is { } next && next.End > from ? next : FirstNightEndingAfter(from);
        while (window.Start < time)
        {
            if (meter.Night is not { } night || night.Start != window.Start)
            {
                // Judged only if this interval reaches back to the window's opening; later ones follow on without a gap.
                meter.Night = night = new NightState(window.Start, window.End, complete: from <= window.Start);
            }
            night.Add(from, time, rate);
            if (time < window.End) break;
            meter.Night = null;
            if (Judge(meter, night, reading, time, floor) is { } leak) (alerts ??= []).Add(leak);
            window = FirstNightEndingAfter(window.End);
        }
        meter.NextNight = window;
        return alerts ?? (IReadOnlyList<Alert>)[];
    }

    /// <summary>Leaks are judged from readings only.</summary>
    public IReadOnlyList<Alert> Check(DateTimeOffset watermark)
    {
        _cooldown.Forget(watermark);
        return [];
    }

    private Alert? Burst(MeterState meter, in Reading reading, DateTimeOffset from, DateTimeOffset time, double rate)
    {
        if (rate < _options.BurstFlow)
        {
            meter.BurstSince = null;
            meter.BurstAlerted = false;
            meter.BurstPoints = null;
            return null;
        }
        meter.BurstSince ??= from;
        var points = meter.BurstPoints ??= [];
        if (points.Count == MaxBurstPoints) points.RemoveAt(0);
        points.Add(new BurstPoint(time.UtcTicks, Round(rate)));
        var since = meter.BurstSince.Value;
        if (meter.BurstAlerted || time - since < _options.BurstDuration) return null;
        meter.BurstAlerted = true;
        if (!_cooldown.Admit(AlertKinds.WaterLeak, reading.Device, time)) return null;

        var volume = points.Count == 0 ? 0 : (time - since).TotalHours * points.Average(p => p.Rate);
        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "Water has run at {0:0} L/h or more through {1} without a break since {2:HH:mm} ({3:0.#} h, about {4:0.0} m³): a burst pipe or a tap left fully open.",
            _options.BurstFlow * 1000, reading.Device, Local(since), (time - since).TotalHours, volume);
        EvidencePoint[] evidence = [.. points.Select(p => new EvidencePoint(new DateTimeOffset(p.Ticks, TimeSpan.Zero), FlowMetric, _options.BurstFlow, p.Rate))];
        return NewAlert(reading, AlertSeverity.Critical, since, time, summary, evidence);
    }

    private Alert? Judge(MeterState meter, NightState night, in Reading reading, DateTimeOffset time, double floor)
    {
        if (!night.Complete) return null;
        if (night.Min < floor)
        {
            // A clean night ends any leak episode and teaches the household's floor.
            meter.Leaking = false;
            meter.AddCleanNight(night.Min, _options.RecentNights);
            return null;
        }
        if (meter.Leaking) return null;
        meter.Leaking = true;
        // A burst already alerted on tells the same story.
        if (meter.BurstAlerted) return null;
        if (!_cooldown.Admit(AlertKinds.WaterLeak, reading.Device, time)) return null;

        var startedAt = meter.FlowingSince is { } since && since < night.Start ? since : night.Start;
        var severity = night.Min >= _options.CriticalFlow ? AlertSeverity.Critical : AlertSeverity.Warning;
        var learned = meter.CleanNightCount >= _options.NightsToLearn;
        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "Water never stopped through {0} last night: at least {1:0} L/h in every reading from {2:HH:mm} to {3:HH:mm}, while {4} {5:0} L/h. Flowing without a break since {6:MM-dd HH:mm} ({7:0} h).",
            reading.Device, night.Min * 1000, Local(night.Start), Local(night.End),
            learned ? "this household's nights fall below" : "a household's nights stay below",
            floor * 1000, Local(startedAt), (time - startedAt).TotalHours);
        return NewAlert(reading, severity, startedAt, time, summary, night.Evidence(floor));
    }

    private Alert NewAlert(in Reading reading, AlertSeverity severity, DateTimeOffset startedAt, DateTimeOffset raisedAt, string summary, IReadOnlyList<EvidencePoint> points) => new()
    {
        Id = Alert.MakeId(AlertKinds.WaterLeak, reading.Device, startedAt),
        Kind = AlertKinds.WaterLeak,
        Severity = severity,
        Community = reading.Community,
        Grid = reading.Grid,
        Household = reading.Household,
        Device = reading.Device,
        StartedAt = startedAt,
        RaisedAt = raisedAt,
        Evidence = new AlertEvidence(summary, points),
    };

    private double Floor(MeterState meter)
    {
        if (meter.CleanNightCount < _options.NightsToLearn) return _options.MaxExcusedNightFlow;
        return Math.Clamp(meter.MedianCleanNight() * _options.BaselineFactor, _options.MinNightFlow, _options.MaxExcusedNightFlow);
    }

    /// <summary>The night window that closes soonest after <paramref name="time"/> (it may already be open).</summary>
    private (DateTimeOffset Start, DateTimeOffset End) FirstNightEndingAfter(DateTimeOffset time)
    {
        var date = LocalWindows.Date(time, _zone).AddDays(-1);
        while (true)
        {
            var window = LocalWindows.Window(date, _options.NightStart, _options.NightEnd, _zone);
            if (window.End > time) return window;
            date = date.AddDays(1);
        }
    }

    private DateTime Local(DateTimeOffset time) => TimeZoneInfo.ConvertTime(time, _zone).DateTime;

    private static double Round(double value) => Math.Round(value, 4);

    /// <remarks>
    /// One per water meter (80,000 for a street office). The times that are always UTC are kept as ticks (0: none): as
    /// <see cref="DateTimeOffset"/> values, nullable ones padded to 24 bytes, they made the state 171 bytes, now ~130
    /// (heap walks of the e2e benchmark's service, benchmarks/README.md).
    /// The night window keeps its offsets (local time), which the alert's times carry.
    /// </remarks>
    private sealed class MeterState(DateTimeOffset last)
    {
        // Lowest flow of recent clean nights.
        // Not readonly: a mutable struct (see RecentMedian).
        private RecentMedian<double> _cleanNights;
        private long _lastTicks = last.UtcTicks;
        private long _flowingSinceTicks;
        private long _burstSinceTicks;

        public DateTimeOffset Last
        {
            get => new(_lastTicks, TimeSpan.Zero);
            set => _lastTicks = value.UtcTicks;
        }

        /// <summary>Start of the unbroken run of intervals at or above the floor that the latest interval belongs to.</summary>
        public DateTimeOffset? FlowingSince
        {
            get => FromTicks(_flowingSinceTicks);
            set => _flowingSinceTicks = value?.UtcTicks ?? 0;
        }

        public NightState? Night { get; set; }
        /// <summary>The first night window that had not closed by the latest reading.</summary>
        public (DateTimeOffset Start, DateTimeOffset End)? NextNight { get; set; }
        /// <summary>The latest judged night leaked and was alerted (or held back): the episode is open.</summary>
        public bool Leaking { get; set; }

        public DateTimeOffset? BurstSince
        {
            get => FromTicks(_burstSinceTicks);
            set => _burstSinceTicks = value?.UtcTicks ?? 0;
        }

        public bool BurstAlerted { get; set; }
        /// <summary>
        /// The run's latest flows, the burst alert's evidence once it has lasted long enough: kept as 16-byte values and
        /// made evidence points only for the alert (a meter in a long shower holds a few; as points they were 10 MB
        /// of the live heap in the benchmark, whose feed makes every meter look like one).
        /// </summary>
        public List<BurstPoint>? BurstPoints { get; set; }
        public int CleanNightCount => _cleanNights.Count;

        /// <summary>A gap in the readings: nothing before it says whether water kept flowing after it.</summary>
        public void Break()
        {
            FlowingSince = null;
            Night = null;
            BurstSince = null;
            BurstAlerted = false;
            BurstPoints = null;
        }

        public void AddCleanNight(double lowest, int capacity) => _cleanNights.Add(lowest, capacity);

        public double MedianCleanNight() => _cleanNights.Median();

        private static DateTimeOffset? FromTicks(long ticks) => ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    /// <summary>One reading's flow (m³/h) during a burst, at its UTC time.</summary>
    private readonly record struct BurstPoint(long Ticks, double Rate);

    /// <summary>One night window of one meter as its readings cover it: the lowest flow, and the mean flow of each hour for the evidence.</summary>
    private sealed class NightState(DateTimeOffset start, DateTimeOffset end, bool complete)
    {
        private readonly double[] _volume = new double[(int)Math.Ceiling((end - start).TotalHours)];
        private readonly double[] _hours = new double[(int)Math.Ceiling((end - start).TotalHours)];

        public DateTimeOffset Start { get; } = start;
        public DateTimeOffset End { get; } = end;
        public bool Complete { get; } = complete;
        public double Min { get; private set; } = double.PositiveInfinity;

        /// <summary>Adds the part of the interval (from, to] that lies in the window, flowing at <paramref name="rate"/> m³/h.</summary>
        public void Add(DateTimeOffset from, DateTimeOffset to, double rate)
        {
            Min = Math.Min(Min, rate);
            var cursor = from > Start ? from : Start;
            var stop = to < End ? to : End;
            while (cursor < stop)
            {
                var slot = (int)((cursor - Start).Ticks / TimeSpan.TicksPerHour);
                var slotEnd = Start.AddHours(slot + 1);
                var until = slotEnd < stop ? slotEnd : stop;
                var hours = (until - cursor).TotalHours;
                _volume[slot] += rate * hours;
                _hours[slot] += hours;
                cursor = until;
            }
        }

        public IReadOnlyList<EvidencePoint> Evidence(double floor)
        {
            var points = new List<EvidencePoint>(_volume.Length);
            for (var i = 0; i < _volume.Length; i++)
            {
                if (_hours[i] <= 0) continue;
                points.Add(new EvidencePoint(Start.AddHours(i), FlowMetric, Round(floor), Round(_volume[i] / _hours[i])));
            }
            return points;
        }
    }
}
