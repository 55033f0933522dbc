namespace Sensing.Analytics.Streaming;

/// <summary>
/// How surprising a non-negative figure is against every figure seen before it, as −log10 of the fraction of the
/// history at least as large: 1 means "one in ten", 3 "one in a thousand". The history is a log-spaced histogram
/// (bounded memory, whole history, counts read through a Fenwick tree) plus the k largest figures exactly; above the
/// k-th largest the tail is extrapolated as exponential with the mean excess of the top k, so a figure far beyond
/// anything seen keeps growing in surprise instead of stopping at log10(n).
/// </summary>
internal sealed class TailSurprise
{
    private const double Lowest = 1e-3;   // figures below share the first bin
    private const double Highest = 1e5;   // and above, the last one (the exact top k still tell them apart)
    private const int Bins = 400;         // 400 bins over 8 decades: about 5 % wide each
    private const int MinimumHistory = 20;

    private static readonly double LogLowest = Math.Log(Lowest);
    private static readonly double BinWidth = (Math.Log(Highest) - LogLowest) / Bins;

    private readonly double[] _tree = new double[Bins + 1];
    private readonly double[] _top;       // the k largest so far, ascending: _top[0] is the k-th largest
    private int _topCount;
    private double _count;

    public TailSurprise(int keepLargest = 10) => _top = new double[keepLargest];

    /// <summary>The surprise of <paramref name="figure"/> against the history (0 while the history is short), then adds it.</summary>
    public double Next(double figure)
    {
        var surprise = _count >= MinimumHistory ? Surprise(figure) : 0;
        var bin = BinOf(figure);
        for (var i = bin + 1; i <= Bins; i += i & -i)
        {
            _tree[i]++;
        }
        _count++;
        if (_topCount < _top.Length)
        {
            _top[_topCount++] = figure;
            Array.Sort(_top, 0, _topCount);
        }
        else if (figure > _top[0])
        {
            _top[0] = figure;
            Array.Sort(_top);
        }
        return surprise;
    }

    private double Surprise(double figure)
    {
        double fraction;
        var k = _top.Length;
        if (_topCount == k && figure > _top[0])
        {
            var meanExcess = 0.0;
            for (var j = 1; j < k; j++)
            {
                meanExcess += _top[j] - _top[0];
            }
            meanExcess /= k - 1;
            // The top k all equal: nothing to measure a spread by, so anything above is as rare as can be said.
            var logTail = meanExcess > 0 ? -(figure - _top[0]) / meanExcess : -50.0;
            fraction = (k - 0.5) / _count * Math.Exp(logTail);
        }
        else
        {
            var bin = BinOf(figure);
            var below = CountBelow(bin);
            var inBin = CountBelow(bin + 1) - below;
            var intoBin = figure <= Lowest ? 0 : Math.Clamp((Math.Log(figure) - (LogLowest + bin * BinWidth)) / BinWidth, 0, 1);
            var atLeast = _count - below - intoBin * inBin;
            fraction = Math.Max(atLeast, 0.5) / _count;
        }
        return -Math.Log10(Math.Min(1, fraction));
    }

    private static int BinOf(double figure) =>
        figure <= Lowest ? 0 : Math.Min(Bins - 1, (int)((Math.Log(figure) - LogLowest) / BinWidth));

    /// <summary>How many figures fell in bins [0, bins).</summary>
    private double CountBelow(int bins)
    {
        var sum = 0.0;
        for (var i = bins; i > 0; i -= i & -i)
        {
            sum += _tree[i];
        }
        return sum;
    }
}
