namespace Sensing.Analytics.EventTime;

/// <summary>
/// The feed's event-time "now", robust to devices whose clocks run ahead. The plain watermark (the newest reading
/// time seen) trusts every device: one camera whose clock is eight hours fast, or a meter that boots into 2099,
/// moves it hours or years ahead, and every other device then looks silent and every hour looks complete. This
/// clock moves forward freely in small steps (at most <see cref="Lead"/> past where it is), but a reading further
/// ahead only moves it once enough devices agree: a quorum of distinct devices — two, up to 1 % of the devices seen
/// plus two — must be past that point, as after a real outage or a backfill every device is. The clock then stands at
/// the quorum's slowest time. A device running ahead alone never drags the feed with it.
/// </summary>
/// <remarks>
/// Deterministic in reading order, so the same feed gives the same clock whatever the batch sizes. While it has seen
/// few devices (<see cref="WarmUpDevices"/>) it is computed exactly, as the quorum-th newest of the devices' latest
/// times, so a skewed device that happens to report first is outvoted as soon as four devices have reported (until
/// then the clock may move back). Not thread-safe.
/// </remarks>
public sealed class EventClock
{
    /// <summary>Below this many devices the clock is recomputed exactly from every device's latest time.</summary>
    public const int WarmUpDevices = 32;

    // Each device's latest reading time as UTC ticks (NotSeen: none yet), indexed by its number: a street office's
    // clock holds ~176,000 devices, 8 bytes each here where a map by id took ~28 and its spare room.
    private const long NotSeen = long.MinValue;
    private long[] _latest = [];
    private int _devices;
    // The first WarmUpDevices devices seen, while the clock is computed exactly from their times.
    private readonly List<int> _warmUp = [];
    // Devices whose latest reading lies more than Lead beyond Now, with that time.
    private readonly Dictionary<int, DateTimeOffset> _ahead = new();
    private DateTimeOffset _aheadMin = DateTimeOffset.MaxValue;

    public EventClock(TimeSpan lead) : this(lead, new DeviceNumbers())
    {
    }

    /// <param name="lead">See <see cref="Lead"/>.</param>
    /// <param name="numbers">The device numbering this clock shares with the other per-device state of its host.</param>
    internal EventClock(TimeSpan lead, DeviceNumbers numbers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lead, TimeSpan.Zero);
        Lead = lead;
        Numbers = numbers;
    }

    /// <summary>The numbers this clock's devices are kept under, for detectors that judge by it to key their own state.</summary>
    internal DeviceNumbers Numbers { get; }

    /// <summary>
    /// The clock a detector judges by: <paramref name="shared"/>, its host's over the same readings, which the host
    /// observes before handing each reading on (then <c>Observes</c> is false); or, without one, a new clock of the
    /// detector's own that it observes itself. A shared clock must have the detector's <paramref name="lead"/>.
    /// </summary>
    internal static (EventClock Clock, bool Observes) OwnOrShared(EventClock? shared, TimeSpan lead)
    {
        if (shared is null) return (new EventClock(lead), true);
        if (shared.Lead != lead)
            throw new ArgumentException($"The shared clock's lead must be {lead}, not {shared.Lead}.", "feedClock");
        return (shared, false);
    }

    /// <summary>How far past the clock a single reading may move it on its own.</summary>
    public TimeSpan Lead { get; }

    /// <summary>The robust event-time now; null before the first reading.</summary>
    public DateTimeOffset? Now { get; private set; }

    /// <summary>The plain watermark: the newest reading time seen, skewed clocks included.</summary>
    public DateTimeOffset? Newest { get; private set; }

    /// <summary>Distinct devices seen.</summary>
    public int Devices => _devices;

    /// <summary>
    /// Makes room for <paramref name="devices"/> devices at once. Grown one device at a time, the numbering's map doubles
    /// (to the next prime) as it fills: a street office's 176,280 devices land just past 175,447 and leave it at 350,899
    /// slots, half of them empty for good.
    /// </summary>
    public void EnsureCapacity(int devices)
    {
        Numbers.EnsureCapacity(devices);
        Numbers.MakeRoom(ref _latest, devices - 1, NotSeen);
    }

    /// <summary>Devices that must agree before the clock jumps further than <see cref="Lead"/>.</summary>
    public int Quorum => Math.Max(1, Math.Min(_devices / 2, (int)Math.Ceiling(_devices * 0.01) + 2));

    /// <summary>
    /// A caller's watermark without what devices running ahead added to it: this clock, plus however far the watermark
    /// has moved past the newest reading (the analytics loop advances a feed gone quiet by wall time). A watermark
    /// that is itself robust, or behind this clock, is returned as it is.
    /// </summary>
    public DateTimeOffset Judge(DateTimeOffset watermark)
    {
        watermark = watermark.ToUniversalTime();
        if (Now is not { } now || Newest is not { } newest) return watermark;
        var quiet = watermark > newest ? watermark - newest : TimeSpan.Zero;
        var judged = now + quiet;
        return judged < watermark ? judged : watermark;
    }

    public void Observe(string device, DateTimeOffset time) => Observe(Numbers.NumberOf(device), time);

    /// <summary>Observes a reading of the device numbered <paramref name="device"/> in <see cref="Numbers"/>.</summary>
    internal void Observe(int device, DateTimeOffset time)
    {
        time = time.ToUniversalTime();
        if (Newest is not { } newest || time > newest) Newest = time;
        Numbers.MakeRoom(ref _latest, device, NotSeen);
        ref var latest = ref _latest[device];
        if (latest == NotSeen)
        {
            _devices++;
            if (_devices <= WarmUpDevices) _warmUp.Add(device);
        }
        else if (time.UtcTicks <= latest) return;
        latest = time.UtcTicks;

        if (_devices <= WarmUpDevices)
        {
            // Exact, and free to move back: with four devices seen, one that reported first from the future is outvoted.
            Now = QuorumTime([.. _warmUp.Select(seen => new DateTimeOffset(_latest[seen], TimeSpan.Zero))]);
            return;
        }
        var now = Now!.Value;
        if (time <= now) return;
        if (time - now <= Lead)
        {
            Advance(time);
            return;
        }
        _ahead[device] = time;
        if (time < _aheadMin) _aheadMin = time;
        if (_ahead.Count >= Quorum) Advance(QuorumTime([.. _ahead.Values]));
    }

    private void Advance(DateTimeOffset to)
    {
        if (Now is { } now && to <= now) return;
        Now = to;
        if (_ahead.Count == 0 || to + Lead < _aheadMin) return;
        // Devices that were ahead and are now within reach are ordinary again.
        _aheadMin = DateTimeOffset.MaxValue;
        foreach (var (device, time) in _ahead.ToList())
        {
            if (time <= to + Lead) _ahead.Remove(device);
            else if (time < _aheadMin) _aheadMin = time;
        }
    }

    /// <summary>The time at least a quorum of the given devices have reached: the quorum-th newest.</summary>
    private DateTimeOffset QuorumTime(DateTimeOffset[] times)
    {
        Array.Sort(times);
        return times[Math.Max(0, times.Length - Quorum)];
    }
}
