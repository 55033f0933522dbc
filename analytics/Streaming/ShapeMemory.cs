namespace Sensing.Analytics.Streaming;

/// <summary>
/// Remembers the coarse shapes a series has shown and says how far the latest one is from all of them. Rows are
/// grouped in blocks; a block stands for its most extreme row (the one farther from the recent level, so a one-row
/// spike survives the coarsening); the last few blocks form the shape. Memory is a bounded set of remembered shapes:
/// a shape close to one (within the vigilance) nudges it, a shape far from all is remembered as new, replacing the
/// least recently matched when full. Distances are in units of the series' typical block-to-block change, so the same
/// vigilance fits a CPU percentage and a byte count.
/// </summary>
internal sealed class ShapeMemory
{
    private readonly int _blockRows;
    private readonly int _width;
    private readonly double _vigilance;
    private readonly double _learningRate;
    private readonly int _capacity;

    private double _blockMin = double.PositiveInfinity;
    private double _blockMax = double.NegativeInfinity;
    private double _blockSum;
    private int _rowsInBlock;
    private double _recentLevel;
    private long _blocks;

    private readonly double[] _shape;        // the last _width block values, oldest first
    private readonly double[] _remembered;   // _capacity shapes of _width values, row-major
    private readonly long[] _lastMatched;    // block number each remembered shape was last matched (or learnt)
    private int _rememberedCount;
    private ExponentialMean _typicalChange; // a mutable struct: not readonly, or Add would change a copy

    public ShapeMemory(int blockRows, int width, double vigilance, double learningRate, int capacity, int scaleMemoryBlocks)
    {
        _blockRows = blockRows;
        _width = width;
        _vigilance = vigilance;
        _learningRate = learningRate;
        _capacity = capacity;
        _shape = new double[width];
        _remembered = new double[capacity * width];
        _lastMatched = new long[capacity];
        _typicalChange = new ExponentialMean(scaleMemoryBlocks);
    }

    /// <summary>
    /// Adds one row. At the end of a block, once enough blocks make a shape, returns true with the distance of the
    /// latest shape to the nearest remembered one (0 while nothing is remembered yet).
    /// </summary>
    public bool Add(double value, out double distance)
    {
        distance = 0;
        _blockMin = Math.Min(_blockMin, value);
        _blockMax = Math.Max(_blockMax, value);
        _blockSum += value;
        if (++_rowsInBlock < _blockRows)
        {
            return false;
        }

        var mean = _blockSum / _blockRows;
        _recentLevel = _blocks == 0 ? mean : 0.5 * (_recentLevel + mean);
        var block = Math.Abs(_blockMax - _recentLevel) >= Math.Abs(_blockMin - _recentLevel) ? _blockMax : _blockMin;
        _blockMin = double.PositiveInfinity;
        _blockMax = double.NegativeInfinity;
        _blockSum = 0;
        _rowsInBlock = 0;

        if (_blocks > 0)
        {
            _typicalChange.Add(Math.Abs(block - _shape[_width - 1]));
        }
        Array.Copy(_shape, 1, _shape, 0, _width - 1);
        _shape[_width - 1] = block;
        if (++_blocks < _width + 2)
        {
            return false; // the first shape must be made of real blocks, and the scale needs a few changes
        }

        var nearest = -1;
        var nearestSquares = double.MaxValue;
        for (var p = 0; p < _rememberedCount; p++)
        {
            var remembered = _remembered.AsSpan(p * _width, _width);
            var squares = 0.0;
            for (var i = 0; i < _width && squares < nearestSquares; i++)
            {
                var difference = _shape[i] - remembered[i];
                squares += difference * difference;
            }
            if (squares < nearestSquares)
            {
                nearestSquares = squares;
                nearest = p;
            }
        }

        if (nearest >= 0)
        {
            distance = Math.Sqrt(nearestSquares / _width) / (_typicalChange.Mean + 1e-12);
        }
        if (nearest < 0 || distance > _vigilance)
        {
            Remember();
        }
        else
        {
            var remembered = _remembered.AsSpan(nearest * _width, _width);
            for (var i = 0; i < _width; i++)
            {
                remembered[i] += _learningRate * (_shape[i] - remembered[i]);
            }
            _lastMatched[nearest] = _blocks;
        }
        return true;
    }

    private void Remember()
    {
        var slot = _rememberedCount;
        if (slot < _capacity)
        {
            _rememberedCount++;
        }
        else
        {
            slot = 0;
            for (var p = 1; p < _capacity; p++)
            {
                if (_lastMatched[p] < _lastMatched[slot])
                {
                    slot = p;
                }
            }
        }
        _shape.CopyTo(_remembered.AsSpan(slot * _width, _width));
        _lastMatched[slot] = _blocks;
    }
}

/// <summary>An exponentially weighted mean over about n samples that averages plainly until it has n, so early samples are not over-weighted.</summary>
internal struct ExponentialMean(int samples)
{
    private readonly double _weight = 1.0 / samples;
    private long _count;

    public double Mean { get; private set; }

    public void Add(double value)
    {
        _count++;
        Mean += Math.Max(_weight, 1.0 / _count) * (value - Mean);
    }
}
