using System.Globalization;
using Sensing.Analytics.EventTime;
using Sensing.Analytics.Norms;
using Sensing.Telemetry;

namespace Sensing.Analytics.Silence;

/// <summary>
/// Raises <c>device_silent</c> for a device that stopped reporting. Each device's usual interval is the
/// median of its recent gaps between readings (its kind's default until it has a few), and it is silent once
/// the event-time watermark is more than <see cref="SilenceOptions.IntervalsBeforeSilent"/> intervals (and at
/// least <see cref="SilenceOptions.MinSilence"/>) past its last reading. One alert per silence episode; a
/// reading ends the episode. Not thread-safe.
/// </summary>
/// <remarks>
/// Wrong clocks are common in the field, and the watermark alone would turn them into floods of false alarms:
/// <list type="bullet">
/// <item>A device whose clock runs hours <b>ahead</b> drags the plain watermark with it, and every other device looks
/// silent. The watch judges by an <see cref="EventClock"/> over the readings it sees (its own, or its host's over the
/// same readings), which ignores a device that runs ahead alone, plus whatever the caller's watermark has moved beyond
/// the newest reading (the loop's allowance for a feed that died entirely).</item>
/// <item>A device whose readings arrive hours <b>behind</b> the feed (a clock that runs late, a gateway that uploads
/// its backlog in bulk) is not silent while they keep coming. Such a lagging device is judged by when it was last
/// heard from (the feed's clock when its latest reading arrived), so a late clock raises nothing rather than one
/// alert per reading, and a lagging device that then stops is still found. Lagging is judged from the readings in
/// their order only, so the alerts stay the same at any replay speed.</item>
/// </list>
/// </remarks>
public sealed class SilenceWatch : IReadingDetector
{
    private readonly SilenceOptions _options;
    private readonly Func<string, Device?> _findDevice;
    private readonly EventClock _clock;
    // Each device's state by its number in the clock's numbering (DeviceNumbers), a struct in an array: one map from id
    // to number for the clocks and this watch together, instead of a map and an object per device here.
    private DeviceState[] _states = [];
    // The most recent gaps between each device's readings, in whole milliseconds.
    private readonly RecentMedians<int> _gaps;
    // Community and grid from the first reading of a device the registry did not know then, for its alert. A device
    // the registry knew stays known (devices are edited, moved, unassigned, never removed), so the others need none.
    private readonly Dictionary<int, (string Community, string? Grid)> _unregistered = new();
    // False when the host's clock is shared: the host observes each reading on it before handing the reading here.
    private readonly bool _observesClock;
    // The event time of the last walk over every device (see Check).
    private DateTimeOffset? _checkedAt;

    /// <summary>How far past the feed's clock one device's reading may move it on its own (see <see cref="EventClock"/>).</summary>
    public static readonly TimeSpan FeedLead = TimeSpan.FromMinutes(15);

    /// <param name="findDevice">Registry lookup (<see cref="IDeviceRegistry.FindDevice"/>) for a device's kind, community and grid.</param>
    /// <param name="feedClock">
    /// The host's clock over exactly the readings (and seeds) it hands this watch, observed by the host before each is
    /// handed on: the analytics loop's. Sharing it saves a second map of every device's latest time (~10 MB for a
    /// street office) and a lookup per reading. Its lead must be <see cref="FeedLead"/>. Null: the watch keeps its own.
    /// </param>
    public SilenceWatch(SilenceOptions options, Func<string, Device?> findDevice, EventClock? feedClock = null)
    {
        _options = options;
        _findDevice = findDevice;
        (_clock, _observesClock) = EventClock.OwnOrShared(feedClock, FeedLead);
        _gaps = new RecentMedians<int>(options.RecentGaps);
    }

    /// <summary>
    /// Notes a reading of <paramref name="device"/>; community and grid are the fallback for a device the registry
    /// does not know. Returns the alert for a silence this reading ends when no <see cref="Check"/> caught it while it
    /// lasted: whether a check happened to run inside the gap depends on how messages were batched, so judging the
    /// gap here as well makes the alerts the same at any replay speed.
    /// </summary>
    public Alert? Observe(string device, string community, string? grid, DateTimeOffset time)
    {
        time = time.ToUniversalTime();
        var number = _clock.Numbers.NumberOf(device);
        if (_observesClock) _clock.Observe(number, time);
        var feed = _clock.Now ?? throw new InvalidOperationException("The shared feed clock must observe a reading before the watch is told of it.");
        ref var state = ref StateOf(number);
        if (!state.Known)
        {
            state = Start(number, device, community, grid, time);
            Heard(number, ref state, time, feed);
            return null;
        }
        // A register and its derived consumption share a timestamp, and late readings arrive out of order:
        // neither says anything about the reporting interval.
        if (time <= state.Last) return null;
        var missed = !state.Silent && !state.Lagging && time - state.Last > Allowed(number, state) ? SilenceAlert(number, state, state.Last) : null;
        _gaps.Add(number, (int)Math.Min(int.MaxValue, (time - state.Last).Ticks / TimeSpan.TicksPerMillisecond));
        state.Last = time;
        Heard(number, ref state, time, feed);
        // Back, even hours behind the feed: the episode is over, and a lagging device is judged by arrival from now on.
        state.Silent = false;
        return missed;
    }

    /// <summary>
    /// Starts watching a device known from before (the registry's last-seen time after a restart). Unlike a reading's
    /// <see cref="Observe"/>, which would call a device last seen days ago lagging and judge it from now on, a seeded
    /// device is judged from <paramref name="lastSeen"/>: one that died before the restart is silent at the first check.
    /// </summary>
    public void Seed(string device, string community, string? grid, DateTimeOffset lastSeen)
    {
        lastSeen = lastSeen.ToUniversalTime();
        var number = _clock.Numbers.NumberOf(device);
        ref var state = ref StateOf(number);
        if (state.Known)
        {
            Observe(device, community, grid, lastSeen);
            return;
        }
        if (_observesClock) _clock.Observe(number, lastSeen);
        state = Start(number, device, community, grid, lastSeen);
        state.HeardAt = lastSeen;
    }

    /// <inheritdoc cref="Observe(string, string, string?, DateTimeOffset)"/>
    public IReadOnlyList<Alert> Observe(in Reading reading) =>
        Observe(reading.Device, reading.Community, reading.Grid, reading.Time) is { } missed ? [missed] : [];

    /// <summary>Makes room for <paramref name="devices"/> devices at once (see <see cref="EventClock.EnsureCapacity"/>).</summary>
    public void EnsureCapacity(int devices)
    {
        _clock.Numbers.EnsureCapacity(devices);
        _clock.Numbers.MakeRoom(ref _states, devices - 1, default);
        _gaps.EnsureCapacity(devices);
    }

    /// <summary>The interval the device is judged by: median of its recent gaps, else its kind's default.</summary>
    public TimeSpan UsualInterval(string device) =>
        _clock.Numbers.TryGetNumber(device, out var number) && number < _states.Length && _states[number].Known
            ? UsualInterval(number, _states[number])
            : _options.MeterInterval;

    /// <summary>
    /// Alerts for devices that went silent by <paramref name="watermark"/> and were not yet alerted on. Walks every device
    /// at most once per <see cref="SilenceOptions.CheckEvery"/> of event time: the loop checks after every batch, and
    /// walking a street office's 176,000 devices each time was ~8 % of the service's CPU at 12,000 msg/s (perf,
    /// benchmarks/README.md) for silences that last minutes. What that leaves for later is found no less: the next
    /// check, or the device's next reading (<see cref="Observe(string, string, string?, DateTimeOffset)"/>), raises the
    /// same alert with the same times.
    /// </summary>
    public IReadOnlyList<Alert> Check(DateTimeOffset watermark)
    {
        var now = _clock.Judge(watermark);
        if (_checkedAt is { } checkedAt && now >= checkedAt && now - checkedAt < _options.CheckEvery) return [];
        _checkedAt = now;
        List<Alert>? alerts = null;
        var states = _states.AsSpan(0, Math.Min(_states.Length, _clock.Numbers.Count));
        for (var number = 0; number < states.Length; number++)
        {
            ref var state = ref states[number];
            if (!state.Known || state.Silent) continue;
            var heard = Reference(state);
            if (now - heard <= Allowed(number, state)) continue;
            state.Silent = true;
            (alerts ??= []).Add(SilenceAlert(number, state, heard));
        }
        return alerts ?? (IReadOnlyList<Alert>)[];
    }

    private ref DeviceState StateOf(int number)
    {
        _clock.Numbers.MakeRoom(ref _states, number, default);
        return ref _states[number];
    }

    private DeviceState Start(int number, string device, string community, string? grid, DateTimeOffset time)
    {
        var kind = _findDevice(device)?.Kind;
        if (kind is null) _unregistered[number] = (community, grid);
        return new DeviceState(time, kind);
    }

    /// <summary>
    /// Notes when the feed last heard from the device, and whether its readings lag the feed by more than half a
    /// silence. Half, not a whole one: a device judged by its own times while lagging by nearly a whole silence would
    /// look silent moments after each reading, and a clock exactly as late as the silence would flip between the two
    /// judgements and alert on every reading. Within half a silence of the feed, its own times leave it two usual
    /// intervals to spare.
    /// </summary>
    private void Heard(int number, ref DeviceState state, DateTimeOffset time, DateTimeOffset feed)
    {
        state.HeardAt = feed > time ? feed : time;
        state.Lagging = feed - time > Allowed(number, state) / 2;
    }

    /// <summary>What a silence is measured from: the last reading's own time, or for a lagging device when it was last heard.</summary>
    private static DateTimeOffset Reference(in DeviceState state) => state.Lagging ? state.HeardAt : state.Last;

    private TimeSpan Allowed(int number, in DeviceState state)
    {
        var allowed = UsualInterval(number, state) * _options.IntervalsBeforeSilent;
        return allowed < _options.MinSilence ? _options.MinSilence : allowed;
    }

    /// <summary>
    /// The alert for a silence that began after <paramref name="state"/>'s last reading. Every figure in it comes from
    /// the device's own readings, never from when the silence was noticed, so a replay, a backfill and a quiet live
    /// feed raise the same alert: raised at the event time the silence became overdue, counted from
    /// <paramref name="heard"/> (the last reading's time, or for a lagging device when the feed last heard from it).
    /// </summary>
    private Alert SilenceAlert(int number, in DeviceState state, DateTimeOffset heard)
    {
        var id = _clock.Numbers.IdOf(number);
        var interval = UsualInterval(number, state);
        var allowed = Allowed(number, state);
        var raisedAt = heard + allowed;
        var device = _findDevice(id);
        // A device the registry knew at first sight and no longer knows cannot happen today (nothing removes devices);
        // should it, its alert goes out without a community rather than failing every later check.
        var (community, grid) = device is null ? _unregistered.GetValueOrDefault(number, (string.Empty, null)) : (device.Community, device.Grid);
        var summary = string.Format(
            CultureInfo.InvariantCulture,
            "No reading from {0} since {1:yyyy-MM-ddTHH:mm:ssZ}: silent for more than {2:0.#} min, while it usually reports every {3:0.#} min.",
            id, state.Last.UtcDateTime, allowed.TotalMinutes, interval.TotalMinutes);
        return new Alert
        {
            Id = Alert.MakeId(AlertKinds.DeviceSilent, id, state.Last),
            Kind = AlertKinds.DeviceSilent,
            Severity = AlertSeverity.Warning,
            Community = community,
            Grid = grid,
            Household = device?.Household,
            Device = id,
            StartedAt = state.Last,
            RaisedAt = raisedAt,
            Evidence = new AlertEvidence(summary,
            [
                // Expected: a reading every usual interval; observed: none for at least the allowed silence.
                new EvidencePoint(raisedAt, "minutes_between_readings", Math.Round(interval.TotalMinutes, 2), Math.Round(allowed.TotalMinutes, 2)),
            ]),
        };
    }

    private TimeSpan UsualInterval(int number, in DeviceState state)
    {
        var kindInterval = state.Kind switch
        {
            DeviceKind.Gate => _options.GateInterval,
            DeviceKind.Parking => _options.ParkingInterval,
            DeviceKind.Camera => _options.CameraInterval,
            _ => _options.MeterInterval,
        };
        TimeSpan? learned = _gaps.Count(number) >= _options.MinGapsToLearn
            ? TimeSpan.FromTicks((long)Math.Round(_gaps.Median(number) * TimeSpan.TicksPerMillisecond))
            : null;
        // Gates and cameras report events, not a rhythm: at the evening peak a gate passes someone every few
        // seconds, at 3 a.m. nobody for an hour. A median learned by day would call every quiet night a silence,
        // so for them the kind's interval is a floor, not just the starting guess.
        if (state.Kind is DeviceKind.Gate or DeviceKind.Camera)
        {
            return learned is { } gap && gap > kindInterval ? gap : kindInterval;
        }
        return learned ?? kindInterval;
    }

    /// <remarks>
    /// One per registered device (176,280 for a street office), in an array by device number, so it is kept small:
    /// times as UTC ticks, the kind in a byte (24 bytes). Its gaps are in <see cref="_gaps"/>, whole milliseconds (exact
    /// for device clocks, which report whole milliseconds or seconds; a gap longer than an int of milliseconds holds,
    /// 24.8 days, counts as 24.8 days). As a map entry, an object, its community and grid and an array of gaps it was
    /// ~250 bytes a device with the clocks' map entries; with the numbering it is ~150 (benchmarks/README.md).
    /// </remarks>
    private struct DeviceState(DateTimeOffset last, DeviceKind? kind)
    {
        private long _lastTicks = last.UtcTicks;
        private long _heardAtTicks;
        private readonly sbyte _kind = kind is { } known ? (sbyte)known : (sbyte)-1;
        private Flags _flags = Flags.Known;

        /// <summary>Whether the watch has heard of the device (the default of an array slot has not).</summary>
        public readonly bool Known => (_flags & Flags.Known) != 0;

        public DateTimeOffset Last
        {
            readonly get => new(_lastTicks, TimeSpan.Zero);
            set => _lastTicks = value.UtcTicks;
        }

        public readonly DeviceKind? Kind => _kind < 0 ? null : (DeviceKind)_kind;

        public bool Silent
        {
            readonly get => (_flags & Flags.Silent) != 0;
            set => _flags = value ? _flags | Flags.Silent : _flags & ~Flags.Silent;
        }

        /// <summary>The feed's clock when the latest reading arrived (at least the reading's own time).</summary>
        public DateTimeOffset HeardAt
        {
            readonly get => new(_heardAtTicks, TimeSpan.Zero);
            set => _heardAtTicks = value.UtcTicks;
        }

        /// <summary>The latest reading arrived more than half a silence behind the feed.</summary>
        public bool Lagging
        {
            readonly get => (_flags & Flags.Lagging) != 0;
            set => _flags = value ? _flags | Flags.Lagging : _flags & ~Flags.Lagging;
        }

        [Flags]
        private enum Flags : byte
        {
            Known = 1,
            Silent = 2,
            Lagging = 4,
        }
    }
}
