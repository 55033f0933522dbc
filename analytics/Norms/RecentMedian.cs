using System.Numerics;

namespace Sensing.Analytics.Norms;

/// <summary>
/// The last few values a detector learns one subject's norm from (a device's reporting gaps, a meter's lowest night
/// flows, a gate's night passes) and their median: a usual level that one odd night or one long outage does not move.
/// The newest value overwrites the oldest; the capacity comes from configuration and may change between calls.
/// Not thread-safe (one detector, one reader).
/// </summary>
/// <remarks>
/// A mutable struct, held in a field of its subject's state (never <c>readonly</c>, never copied): detectors keep one
/// per registered device, 176,280 for a street office, and as a class each was an object of its own beside the
/// state that held it (12 MB of the live heap in the end-to-end benchmark). <typeparamref name="T"/> is the narrowest
/// type that holds the values exactly (whole milliseconds for gaps, passes for a gate).
/// </remarks>
internal struct RecentMedian<T> where T : unmanaged, INumber<T>
{
    private T[]? _values;
    private int _next;
    private int _count;
    // The median of the values held, kept until the next Add (NaN: not known): readers ask far more often than values
    // arrive (SilenceWatch judges every device after every batch, against a gap learned once per reading), and sorting
    // a copy per question was a quarter of the whole service at 20,000 msg/s (benchmarks/README.md).
    private double _median;

    /// <summary>Values held, at most the capacity last given to <see cref="Add"/>.</summary>
    public readonly int Count => _count;

    public void Add(T value, int capacity)
    {
        if (_values is null || _values.Length != capacity) Array.Resize(ref _values, capacity);
        if (_next >= capacity) _next = 0;
        if (_count > capacity) _count = capacity;
        _values[_next] = value;
        _next = (_next + 1) % capacity;
        if (_count < capacity) _count++;
        _median = double.NaN;
    }

    /// <summary>The median of the values held; call only when <see cref="Count"/> is above zero.</summary>
    public double Median()
    {
        if (double.IsNaN(_median)) _median = Compute();
        return _median;
    }

    private readonly double Compute() => MedianOf(_values.AsSpan(0, _count));

    /// <summary>The median of <paramref name="values"/> (not empty), which are left as they are.</summary>
    internal static double MedianOf(ReadOnlySpan<T> values)
    {
        Span<T> sorted = values.Length <= 256 ? stackalloc T[values.Length] : new T[values.Length];
        values.CopyTo(sorted);
        sorted.Sort();
        var mid = values.Length / 2;
        return values.Length % 2 == 1
            ? double.CreateChecked(sorted[mid])
            : (double.CreateChecked(sorted[mid - 1]) + double.CreateChecked(sorted[mid])) / 2;
    }
}
