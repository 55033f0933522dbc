using System.Numerics;

namespace Sensing.Analytics.Norms;

/// <summary>
/// <see cref="RecentMedian{T}"/> for many subjects numbered densely from 0 (<see cref="EventTime.DeviceNumbers"/>), with
/// the values of 1,024 subjects in one page instead of an array per subject: a street office's silence watch keeps 15
/// gaps for each of 176,280 devices, and an array of its own per device added a 24-byte header and a reference to each
/// device's 60 bytes of values. A page is allocated when one of its subjects gets its first value. The capacity is
/// fixed at construction. Not thread-safe.
/// </summary>
internal sealed class RecentMedians<T> where T : unmanaged, INumber<T>
{
    private const int PageShift = 10;
    private const int PageSubjects = 1 << PageShift;

    private readonly int _capacity;
    private T[]?[] _pages = [];
    private Slot[] _slots = [];

    public RecentMedians(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, ushort.MaxValue);
        _capacity = capacity;
    }

    /// <summary>Values held for <paramref name="subject"/>, at most the capacity.</summary>
    public int Count(int subject) => subject < _slots.Length ? _slots[subject].Count : 0;

    public void Add(int subject, T value)
    {
        if (subject >= _slots.Length) Array.Resize(ref _slots, Math.Max(subject + 1, Math.Max(PageSubjects, 2 * _slots.Length)));
        var page = subject >> PageShift;
        if (page >= _pages.Length) Array.Resize(ref _pages, Math.Max(page + 1, 2 * _pages.Length));
        var values = _pages[page] ??= new T[PageSubjects * _capacity];
        ref var slot = ref _slots[subject];
        values[(subject & (PageSubjects - 1)) * _capacity + slot.Next] = value;
        slot.Next = (ushort)((slot.Next + 1) % _capacity);
        if (slot.Count < _capacity) slot.Count++;
        slot.Median = double.NaN;
    }

    /// <summary>The median of the subject's values; call only when <see cref="Count"/> is above zero.</summary>
    public double Median(int subject)
    {
        ref var slot = ref _slots[subject];
        if (double.IsNaN(slot.Median))
        {
            var start = (subject & (PageSubjects - 1)) * _capacity;
            slot.Median = RecentMedian<T>.MedianOf(_pages[subject >> PageShift].AsSpan(start, slot.Count));
        }
        return slot.Median;
    }

    /// <summary>Makes room for <paramref name="subjects"/> subjects' bookkeeping at once (their values still come by page).</summary>
    public void EnsureCapacity(int subjects)
    {
        if (_slots.Length < subjects) Array.Resize(ref _slots, subjects);
    }

    // 16 bytes a subject. The median is kept until the next Add (see RecentMedian's); Count and Next fit the capacity.
    private struct Slot
    {
        public double Median;
        public ushort Next;
        public ushort Count;
    }
}
