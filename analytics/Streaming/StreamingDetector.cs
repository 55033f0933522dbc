namespace Sensing.Analytics.Streaming;

/// <summary>
/// A generic streaming anomaly detector for one univariate series: one row in, one anomaly score in [0, 1) out, in a
/// single pass with bounded memory and constant work per row, using only the rows seen so far (no look-ahead), and
/// deterministic (the same rows give the same scores). Create one per series.
/// <para>
/// Two kinds of evidence, each turned into a surprise (−log10 of how rare it is in this series' own history, so one
/// threshold fits every series):
/// </para>
/// <list type="bullet">
/// <item>Shape novelty (<see cref="ShapeMemory"/>): how far the last few hours' coarse shape is from every shape the
/// series has shown before, rated against the history of such distances (<see cref="TailSurprise"/>).</item>
/// <item>New highs (<see cref="RecordHighs"/>): a value above nearly everything seen so far, less
/// <see cref="StreamingDetectorOptions.RecordOffset"/>.</item>
/// </list>
/// The stronger of the two is the row's surprise s. An alarm is reported once: for
/// <see cref="StreamingDetectorOptions.SuppressionRows"/> rows after a reported alarm only a clearly stronger one is
/// reported, the rest score 0 (a level shift keeps looking odd for a while, but it is one event). The score is
/// s / (1 + s): 0.5 is "one in ten", 0.75 "one in a thousand".
/// </summary>
public sealed class StreamingDetector
{
    private readonly StreamingDetectorOptions _options;
    private readonly ShapeMemory _shapes;
    private readonly TailSurprise _shapeSurprise = new();
    private readonly RecordHighs _highs;
    private long _rows;
    private double _lastAlarm;
    private long _rowsSinceAlarm = long.MaxValue / 2;

    public StreamingDetector()
        : this(new StreamingDetectorOptions())
    {
    }

    public StreamingDetector(StreamingDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _shapes = new ShapeMemory(options.BlockRows, options.ShapeBlocks, options.Vigilance, options.ShapeLearningRate,
            options.ShapeCapacity, options.ScaleMemoryBlocks);
        _highs = new RecordHighs(options.RecordCount);
    }

    /// <summary>Rows scored so far.</summary>
    public long Rows => _rows;

    /// <summary>
    /// Scores the next row. <paramref name="timestamp"/> is accepted for the contract's shape (rows are taken in the
    /// order given, at whatever spacing); the detector works on the sequence of values.
    /// </summary>
    public double Score(DateTime timestamp, double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "a reading must be a finite number");
        }
        _rows++;

        var surprise = _highs.Next(value) - _options.RecordOffset;
        if (_shapes.Add(value, out var distance))
        {
            surprise = Math.Max(surprise, _shapeSurprise.Next(distance));
        }
        // A long series would otherwise alarm in proportion to its length; its real events do not multiply with it.
        if (_rows > _options.LengthReferenceRows)
        {
            surprise -= _options.LengthPenalty * Math.Log10((double)_rows / _options.LengthReferenceRows);
        }
        if (surprise <= 0 || _rows < _options.WarmupRows)
        {
            surprise = 0;
        }

        _rowsSinceAlarm++;
        var suppressing = _rowsSinceAlarm <= _options.SuppressionRows;
        if (surprise > 0 && (!suppressing || surprise > _lastAlarm + _options.SuppressionMargin))
        {
            _lastAlarm = surprise;
            _rowsSinceAlarm = 0;
        }
        else
        {
            surprise = 0;
        }
        return surprise / (1 + surprise);
    }
}
