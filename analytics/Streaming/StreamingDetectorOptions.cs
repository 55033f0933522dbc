namespace Sensing.Analytics.Streaming;

/// <summary>
/// The streaming detector's parameters. One global set for every series, as NAB's rules require; the defaults were
/// chosen by sweeping on the whole NAB corpus (see analytics/README.md), not per series.
/// </summary>
public sealed record StreamingDetectorOptions
{
    /// <summary>Rows per block of the coarse shape. Six 5-minute rows make half an hour: short enough to catch a spike
    /// within a block, long enough that row-to-row noise does not look like a new shape.</summary>
    public int BlockRows { get; init; } = 6;

    /// <summary>Blocks in one shape (the recent window compared with memory): 8 × 6 rows = 4 hours of 5-minute data.</summary>
    public int ShapeBlocks { get; init; } = 8;

    /// <summary>How far (RMS per block, in units of the series' typical block-to-block change) a shape must be from every
    /// remembered one to be remembered as new. Smaller remembers more shapes; 1 was best on NAB.</summary>
    public double Vigilance { get; init; } = 1.0;

    /// <summary>Remembered shapes at most (least recently matched forgotten first): bounds memory and per-block work.</summary>
    public int ShapeCapacity { get; init; } = 500;

    /// <summary>How far a matched remembered shape moves toward the current one, so slow drift stays familiar.</summary>
    public double ShapeLearningRate { get; init; } = 0.1;

    /// <summary>Blocks over which the typical block-to-block change (the shape distance's unit) is averaged.</summary>
    public int ScaleMemoryBlocks { get; init; } = 2000;

    /// <summary>The largest values kept exactly; a value above the k-th largest so far is a new high and scored by how far.</summary>
    public int RecordCount { get; init; } = 3;

    /// <summary>Surprise (−log10 p) a new high gives up before it competes with shape novelty: a new high is only as telling
    /// as a shape 100× rarer, since highs are broken routinely while a series trends.</summary>
    public double RecordOffset { get; init; } = 2.0;

    /// <summary>Rows scored 0 while the statistics settle.</summary>
    public int WarmupRows { get; init; } = 100;

    /// <summary>After an alarm, rows during which only a clearly stronger alarm (by <see cref="SuppressionMargin"/>) is
    /// reported: one event, one alarm.</summary>
    public int SuppressionRows { get; init; } = 100;

    /// <summary>How much stronger (in −log10 p) an alarm inside the suppression period must be to be reported.</summary>
    public double SuppressionMargin { get; init; } = 1.0;

    /// <summary>
    /// How much rarer an event must be, the longer the series has run: both surprises give up
    /// LengthPenalty × log10(rows / <see cref="LengthReferenceRows"/>) once past that many rows. A surprise is a rate
    /// per block, so a fixed bar raises alarms in proportion to a series' length, while a series' real events do not
    /// grow with it (NAB: 1–4 labelled windows per file whatever its length); with 0.25 a series 16× longer needs an
    /// event 2× rarer. 0 turns it off.
    /// </summary>
    public double LengthPenalty { get; init; } = 0.25;

    /// <summary>Rows after which <see cref="LengthPenalty"/> starts to count (about two days of 5-minute rows).</summary>
    public int LengthReferenceRows { get; init; } = 600;

    /// <summary>Throws on a value the detector cannot work with, naming it.</summary>
    public void Validate()
    {
        Require(BlockRows >= 1, nameof(BlockRows), "must be at least 1");
        Require(ShapeBlocks >= 2, nameof(ShapeBlocks), "must be at least 2");
        Require(Vigilance > 0 && double.IsFinite(Vigilance), nameof(Vigilance), "must be a positive number");
        Require(ShapeCapacity >= 1, nameof(ShapeCapacity), "must be at least 1");
        Require(ShapeLearningRate is >= 0 and <= 1, nameof(ShapeLearningRate), "must be from 0 to 1");
        Require(ScaleMemoryBlocks >= 1, nameof(ScaleMemoryBlocks), "must be at least 1");
        Require(RecordCount >= 2, nameof(RecordCount), "must be at least 2");
        Require(double.IsFinite(RecordOffset), nameof(RecordOffset), "must be a number");
        Require(WarmupRows >= 0, nameof(WarmupRows), "must not be negative");
        Require(LengthPenalty >= 0 && double.IsFinite(LengthPenalty), nameof(LengthPenalty), "must not be negative");
        Require(LengthReferenceRows >= 1, nameof(LengthReferenceRows), "must be at least 1");
        Require(SuppressionRows >= 0, nameof(SuppressionRows), "must not be negative");
        Require(SuppressionMargin >= 0 && double.IsFinite(SuppressionMargin), nameof(SuppressionMargin), "must not be negative");

        static void Require(bool ok, string name, string rule)
        {
            if (!ok)
            {
                throw new ArgumentException($"StreamingDetectorOptions.{name} {rule}", name);
            }
        }
    }
}
