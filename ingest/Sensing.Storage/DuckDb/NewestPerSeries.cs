using Sensing.Telemetry;

namespace Sensing.Storage;

/// <summary>
/// An upper bound on the newest stored time of every series (device, metric, label), kept by the one writer, so a batch
/// can be known to hold nothing already stored without asking DuckDB. The write's duplicate check (an anti-join of the
/// batch against the newest row groups of <c>readings</c>) was ~8 % of the service's CPU at 12,000 msg/s
/// (benchmarks/README.md), for a live feed whose readings are all newer than anything stored; a redelivered or late
/// reading is not newer than its series' bound, and its batch is checked as before.
/// <para>
/// The bound of a series is the larger of the newest time in the file when the store opened (<see cref="Opened"/>) and
/// the newest of that series written since (<see cref="Written"/>). Rows stamped well ahead of the clock when the
/// store opened (a device whose clock runs fast) get bounds of their own instead of raising the file's: one fast clock
/// would otherwise send every batch after a restart the slow way. Series are keyed by a 32-bit hash of their names: two
/// series sharing a key share the larger bound, which can only cost a check, never let a duplicate in. The bounds are
/// an open-addressed table of keys and times (12 bytes a slot, at most three quarters full): as a
/// <c>Dictionary&lt;int, long&gt;</c> they took 28 bytes a slot with up to half the slots empty (a heap walk of the e2e
/// benchmark's service: 205,508 series in 324,449 slots, 9.1 MB, and a street office writes ~370,000). Times in whole
/// microseconds, as DuckDB keeps them. Not thread-safe: used under the store's write lock.
/// </para>
/// </summary>
internal sealed class NewestPerSeries
{
    /// <summary>Rows stamped further ahead of the clock than this when the store opens are bounded one series at a time.</summary>
    public static readonly TimeSpan Ahead = TimeSpan.FromMinutes(1);

    private const int InitialSlots = 1024;

    // Bounds from writes: linear probing over a power-of-two table, grown at three quarters full. A key of 0 marks an
    // empty slot, so the series whose key is 0 (one in four billion) is kept aside.
    private int[] _slotKeys = new int[InitialSlots];
    private long[] _slotBounds = new long[InitialSlots];
    private int _filled;
    private bool _zeroKnown;
    private long _zeroBound;

    private long _storedBefore = long.MinValue;
    private int[] _keys = [];

    /// <summary>How many series have a bound of their own.</summary>
    public int Series => _filled + (_zeroKnown ? 1 : 0);

    /// <summary>
    /// Takes the file's newest time up to the clock plus <see cref="Ahead"/> (null: none), and the newest time of each series
    /// stamped beyond it. Called each time the writer opens (again after a fatal error); bounds from writes are kept.
    /// </summary>
    public void Opened(DateTime? newestStored, IEnumerable<(string Device, string Metric, string Label, DateTime Newest)> ahead)
    {
        _storedBefore = Math.Max(_storedBefore, newestStored is { } newest ? Micros(newest.Ticks) : long.MinValue);
        foreach (var (device, metric, label, time) in ahead) Raise(Key(device, metric, label), Micros(time.Ticks));
    }

    /// <summary>
    /// Each reading's series key, in a buffer reused by the next batch: hashed once per batch for
    /// <see cref="AllNewer"/> and <see cref="Written"/> both.
    /// </summary>
    public ReadOnlySpan<int> SeriesOf(IReadOnlyList<Reading> readings)
    {
        if (_keys.Length < readings.Count) _keys = new int[Math.Max(readings.Count, 2 * _keys.Length)];
        for (var i = 0; i < readings.Count; i++)
        {
            var reading = readings[i];
            _keys[i] = Key(reading.Device, reading.Metric, reading.Label ?? string.Empty);
        }
        return _keys.AsSpan(0, readings.Count);
    }

    /// <summary>Whether every reading is newer than anything stored of its series: then none of them can be stored already.</summary>
    public bool AllNewer(IReadOnlyList<Reading> readings, ReadOnlySpan<int> series)
    {
        for (var i = 0; i < readings.Count; i++)
        {
            var time = Micros(readings[i].Time.UtcTicks);
            if (time <= _storedBefore) return false;
            if (TryGetBound(series[i], out var bound) && time <= bound) return false;
        }
        return true;
    }

    /// <summary>
    /// Raises the bounds by a batch about to be written whose every reading is newer than its series' bound
    /// (<see cref="AllNewer"/>), and tells whether each reading is also newer than the ones of its series before it in the
    /// batch: then no key repeats within the batch. Raising before the commit is safe: a bound above what is stored
    /// only sends a later batch through the check.
    /// </summary>
    public bool RaiseInOrder(IReadOnlyList<Reading> readings, ReadOnlySpan<int> series)
    {
        var inOrder = true;
        for (var i = 0; i < readings.Count; i++) inOrder &= Raise(series[i], Micros(readings[i].Time.UtcTicks));
        return inOrder;
    }

    /// <summary>Raises the bounds by a batch that was committed (its readings are stored now, or were already).</summary>
    public void Written(IReadOnlyList<Reading> readings, ReadOnlySpan<int> series)
    {
        for (var i = 0; i < readings.Count; i++) Raise(series[i], Micros(readings[i].Time.UtcTicks));
    }

    /// <summary>Raises a series' bound to <paramref name="micros"/>; false when the bound was that late already.</summary>
    internal bool Raise(int key, long micros)
    {
        if (key == 0)
        {
            if (_zeroKnown && micros <= _zeroBound) return false;
            (_zeroKnown, _zeroBound) = (true, micros);
            return true;
        }
        var mask = _slotKeys.Length - 1;
        var slot = key & mask;
        for (; _slotKeys[slot] != 0; slot = (slot + 1) & mask)
        {
            if (_slotKeys[slot] != key) continue;
            if (micros <= _slotBounds[slot]) return false;
            _slotBounds[slot] = micros;
            return true;
        }
        if (_filled + 1 > _slotKeys.Length / 4 * 3)
        {
            Grow();
            return Raise(key, micros);
        }
        _slotKeys[slot] = key;
        _slotBounds[slot] = micros;
        _filled++;
        return true;
    }

    /// <summary>The bound of the series keyed <paramref name="key"/>, if it has one of its own.</summary>
    internal bool TryGetBound(int key, out long bound)
    {
        if (key == 0)
        {
            bound = _zeroBound;
            return _zeroKnown;
        }
        var mask = _slotKeys.Length - 1;
        for (var slot = key & mask; _slotKeys[slot] != 0; slot = (slot + 1) & mask)
        {
            if (_slotKeys[slot] != key) continue;
            bound = _slotBounds[slot];
            return true;
        }
        bound = 0;
        return false;
    }

    private void Grow()
    {
        var (keys, bounds) = (_slotKeys, _slotBounds);
        _slotKeys = new int[keys.Length * 2];
        _slotBounds = new long[keys.Length * 2];
        var mask = _slotKeys.Length - 1;
        for (var i = 0; i < keys.Length; i++)
        {
            if (keys[i] == 0) continue;
            var slot = keys[i] & mask;
            while (_slotKeys[slot] != 0) slot = (slot + 1) & mask;
            _slotKeys[slot] = keys[i];
            _slotBounds[slot] = bounds[i];
        }
    }

    private static int Key(string device, string metric, string label) => HashCode.Combine(device, metric, label);

    // DuckDB keeps microseconds and drops the rest (ticks are tenths of one), so two readings within a microsecond are
    // one key to it, and must be one here.
    private static long Micros(long ticks) => ticks / 10;
}
