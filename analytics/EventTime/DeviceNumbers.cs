namespace Sensing.Analytics.EventTime;

/// <summary>
/// A dense number for every device id the analytics loop has heard of, handed out in first-seen order from 0, so its
/// per-device state (the event clocks' latest times, the silence watch's intervals) can live in arrays indexed by the
/// number instead of one map per detector keyed by the id. A street office has 176,280 devices: each map cost an entry
/// of 24–40 bytes, its bucket and its spare room per device, and the silence watch's state was an object of its own
/// (benchmarks/README.md, "Analytics' per-device state in arrays"). One map from id to number is left, shared by the
/// loop's clocks and its silence watch through <see cref="EventClock.Numbers"/>. Numbers are never reused. Not
/// thread-safe.
/// </summary>
internal sealed class DeviceNumbers
{
    private readonly Dictionary<string, int> _numbers = new(StringComparer.Ordinal);
    private string[] _ids = [];

    /// <summary>Devices numbered so far; every number is below it.</summary>
    public int Count => _numbers.Count;

    /// <summary>The device's number, a new one (<see cref="Count"/> before the call) the first time it is asked.</summary>
    public int NumberOf(string device)
    {
        ref var number = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_numbers, device, out var known);
        if (known) return number;
        number = _numbers.Count - 1;
        if (number == _ids.Length) Array.Resize(ref _ids, Math.Max(16, 2 * _ids.Length));
        _ids[number] = device;
        return number;
    }

    public bool TryGetNumber(string device, out int number) => _numbers.TryGetValue(device, out number);

    /// <summary>The id a number was handed out for.</summary>
    public string IdOf(int number) => (uint)number < (uint)Count
        ? _ids[number]
        : throw new ArgumentOutOfRangeException(nameof(number), number, $"Only {Count} devices are numbered.");

    /// <summary>Makes room for <paramref name="devices"/> devices at once, so the map is not doubled past them as they turn up.</summary>
    public void EnsureCapacity(int devices)
    {
        _numbers.EnsureCapacity(devices);
        if (_ids.Length < devices) Array.Resize(ref _ids, devices);
    }

    /// <summary>
    /// Grows <paramref name="values"/> (new slots set to <paramref name="empty"/>) so it holds <paramref name="number"/>:
    /// to the numbers handed out so far, at least doubled, so per-device arrays grow as the map does.
    /// </summary>
    public void MakeRoom<T>(ref T[] values, int number, T empty)
    {
        if (number < values.Length) return;
        var old = values.Length;
        Array.Resize(ref values, Math.Max(Math.Max(number + 1, Count), Math.Max(16, 2 * old)));
        values.AsSpan(old).Fill(empty);
    }
}
