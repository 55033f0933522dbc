namespace Sensing.Ingest.Consumption;

/// <summary>
/// Turns cumulative meter registers into consumption per interval. A meter reports its register
/// (<c>water.total</c> 123.456 m³); what a household used is the difference to the previous register of the
/// same meter, stamped at the newer reading's time. Cases real meters produce:
/// <list type="bullet">
/// <item>first register seen: no consumption yet (the interval it closes is unknown);</item>
/// <item>same or older time than the last register (a QoS 1 duplicate, a late message): no consumption,
/// state unchanged, so nothing is counted twice;</item>
/// <item>register went down: the counter rolled over at a power of ten (99 998.5 → 1.2 used 2.7) when the old
/// value sat within 1% of it, otherwise the meter was reset or replaced and counted up from zero (use = new value).</item>
/// </list>
/// Not thread-safe: one tracker per pipeline worker, and a meter's messages go to one worker.
/// </summary>
public sealed class RegisterTracker
{
    // The time as UTC ticks: one entry per meter register (~176,000 for a street office), and a DateTimeOffset's
    // offset, always compared as UTC here, made each entry a fifth larger.
    private readonly Dictionary<(string Device, string Metric), (long TimeTicks, double Total)> _last = [];

    public int Count => _last.Count;

    /// <summary>
    /// Makes room for <paramref name="registers"/> registers at once. Grown one meter at a time the map doubles past
    /// them: a street office's 160,000 meters filled 156,437 slots and left it at 324,449 (13 MB, and the 6 MB it
    /// outgrew), where 187,751 hold them (7.5 MB).
    /// </summary>
    public void EnsureCapacity(int registers) => _last.EnsureCapacity(registers);

    /// <summary>Seeds the last known register of a meter (from the store, after a restart).</summary>
    public void Seed(string device, string registerMetric, DateTimeOffset time, double total)
    {
        var key = (device, registerMetric);
        if (!_last.TryGetValue(key, out var known) || known.TimeTicks < time.UtcTicks)
        {
            _last[key] = (time.UtcTicks, total);
        }
    }

    /// <summary>
    /// Records a register reading; returns the consumption reading it implies, or null when it implies none.
    /// </summary>
    public Reading? Observe(in Reading register)
    {
        var consumptionMetric = Metrics.ConsumptionOf(register.Metric);
        if (consumptionMetric is null)
        {
            return null;
        }
        var key = (register.Device, register.Metric);
        ref var last = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_last, key, out var existed);
        var time = register.Time.UtcTicks;
        if (!existed)
        {
            last = (time, register.Value);
            return null;
        }
        if (time <= last.TimeTicks)
        {
            return null;
        }
        var used = Difference(last.Total, register.Value);
        last = (time, register.Value);
        return register with { Metric = consumptionMetric, Value = used, Label = null, Attributes = null };
    }

    /// <summary>What was used between two register values, with rollover and reset handled as described above.</summary>
    public static double Difference(double previous, double current)
    {
        if (current >= previous)
        {
            return current - previous;
        }
        // A mechanical or firmware counter wraps at a power of ten: 99 998.5 → 100 000 → 1.2.
        var wrap = Math.Pow(10, Math.Ceiling(Math.Log10(Math.Max(previous, 1))));
        if (previous >= wrap * 0.99)
        {
            return wrap - previous + current;
        }
        return current;
    }
}
