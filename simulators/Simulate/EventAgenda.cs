namespace Sensing.Simulators.Simulate;

/// <summary>
/// The generator's agenda: pending event keys (<c>ms &lt;&lt; sourceBits | source</c>), taken smallest first.
/// A binary heap over ~190,000 sources (40 communities) spent most of the generation time on cache misses, so
/// this is a timing wheel of one-second buckets covering the longest periodic interval (a meter's 15 minutes):
/// inserting appends to a bucket, and a bucket is sorted once when its second comes up. The rare key beyond
/// the wheel (a night-time gap between gate passes, a scripted incident hours ahead) waits in a small heap.
/// Keys are unique (one pending event per source), so the order is exactly the heap's.
/// </summary>
internal sealed class EventAgenda(int sourceBits)
{
    private const int WheelSeconds = 1024;
    private readonly long[][] _buckets = CreateBuckets();
    private readonly int[] _counts = new int[WheelSeconds];
    private readonly PriorityQueue<long, long> _far = new();
    private long[] _current = new long[64];
    private int _currentCount;
    private int _currentIndex;
    private long _currentSecond = -1;
    private long _inWheel;

    public void Enqueue(long key)
    {
        var second = (key >> sourceBits) / 1000;
        if (second <= _currentSecond)
        {
            // Due within the second being taken: keep the rest of its batch sorted.
            var index = Array.BinarySearch(_current, _currentIndex, _currentCount - _currentIndex, key);
            index = index < 0 ? ~index : index;
            if (_currentCount == _current.Length)
                Array.Resize(ref _current, _current.Length * 2);
            Array.Copy(_current, index, _current, index + 1, _currentCount - index);
            _current[index] = key;
            _currentCount++;
        }
        else if (second < _currentSecond + WheelSeconds)
        {
            var slot = (int)(second % WheelSeconds);
            ref var bucket = ref _buckets[slot];
            if (_counts[slot] == bucket.Length)
                Array.Resize(ref bucket, bucket.Length * 2);
            bucket[_counts[slot]++] = key;
            _inWheel++;
        }
        else
        {
            _far.Enqueue(key, key);
        }
    }

    public bool TryDequeue(out long key)
    {
        while (_currentIndex == _currentCount)
        {
            if (_inWheel == 0)
            {
                if (_far.Count == 0)
                {
                    key = 0;
                    return false;
                }
                // Nothing for a while: jump to the second before the next far key.
                _currentSecond = Math.Max(_currentSecond, (_far.Peek() >> sourceBits) / 1000 - 1);
            }
            _currentSecond++;
            var slot = (int)(_currentSecond % WheelSeconds);
            // Swap the bucket in as the batch to take; the spent batch array becomes the bucket's storage.
            (_current, _buckets[slot]) = (_buckets[slot], _current);
            _currentCount = _counts[slot];
            _inWheel -= _currentCount;
            _counts[slot] = 0;
            _currentIndex = 0;
            while (_far.Count > 0 && (_far.Peek() >> sourceBits) / 1000 <= _currentSecond)
            {
                if (_currentCount == _current.Length)
                    Array.Resize(ref _current, _current.Length * 2);
                _current[_currentCount++] = _far.Dequeue();
            }
            Array.Sort(_current, 0, _currentCount);
        }
        key = _current[_currentIndex++];
        return true;
    }

    private static long[][] CreateBuckets()
    {
        var buckets = new long[WheelSeconds][];
        for (var i = 0; i < buckets.Length; i++)
            buckets[i] = new long[16];
        return buckets;
    }
}
