namespace Sensing.Analytics.Norms;

/// <summary>
/// The last few values a detector learns one subject's norm from (a device's reporting gaps, a meter's lowest night
/// flows, a gate's night passes) and their median: a usual level that one odd night or one long outage does not move.
/// The newest value overwrites the oldest; the capacity comes from configuration and may change between calls.
/// Not thread-safe (one detector, one reader).
/// </summary>
internal sealed class RecentMedian
{
    private double[] _values = [];
    private int _next;
    // The median of the values held, kept until the next Add: readers ask far more often than values arrive
    // (SilenceWatch judges every device after every batch, against a gap learned once per reading), and sorting a
    // copy per question was a quarter of the whole service at 20,000 msg/s (benchmarks/README.md).
    private double? _median;

    /// <summary>Values held, at most the capacity last given to <see cref="Add"/>.</summary>
    public int Count { get; private set; }

    public void Add(double value, int capacity)
    {
        if (_values.Length != capacity) Array.Resize(ref _values, capacity);
        if (_next >= capacity) _next = 0;
        if (Count > capacity) Count = capacity;
        _values[_next] = value;
        _next = (_next + 1) % capacity;
        if (Count < capacity) Count++;
        _median = null;
    }

    /// <summary>The median of the values held; call only when <see cref="Count"/> is above zero.</summary>
    public double Median() => _median ??= Compute();

    private double Compute()
    {
        Span<double> sorted = Count <= 256 ? stackalloc double[Count] : new double[Count];
        _values.AsSpan(0, Count).CopyTo(sorted);
        sorted.Sort();
        var mid = Count / 2;
        return Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
