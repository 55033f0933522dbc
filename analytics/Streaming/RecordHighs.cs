namespace Sensing.Analytics.Streaming;

/// <summary>
/// Whether a value is a new high for the series, and how surprising: above the k-th largest value so far it scores
/// −log10((k − ½)/n) (the chance of landing among the top k) plus the excess over the k-th largest in units of the
/// top k's own spread (an exponential tail). Many NAB anomalies are exactly this: a level never reached before.
/// </summary>
internal sealed class RecordHighs(int keep)
{
    private readonly double[] _top = new double[keep]; // ascending: _top[0] is the k-th largest
    private int _topCount;
    private long _count;

    public double Next(double value)
    {
        var surprise = 0.0;
        if (_topCount == _top.Length && value > _top[0])
        {
            var spread = 0.0;
            for (var j = 1; j < _top.Length; j++)
            {
                spread += _top[j] - _top[0];
            }
            spread /= _top.Length - 1;
            // The top k all equal (a series that sat at one ceiling): leaving it is a clear event.
            surprise = -Math.Log10((_top.Length - 0.5) / _count) + (spread > 0 ? (value - _top[0]) / spread / Math.Log(10) : 10);
        }
        _count++;
        if (_topCount < _top.Length)
        {
            _top[_topCount++] = value;
            Array.Sort(_top, 0, _topCount);
        }
        else if (value > _top[0])
        {
            _top[0] = value;
            Array.Sort(_top);
        }
        return surprise;
    }
}
