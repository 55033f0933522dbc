namespace Sensing.Analytics.Nab;

/// <summary>What one series scored at a given threshold.</summary>
public sealed record NabFileScore(string RelativePath, double RawScore, int TruePositives, int FalsePositives, int FalseNegatives);

/// <summary>
/// A detector's NAB result under one profile: the threshold that maximises the corpus total, the raw total at that
/// threshold, and the 0–100 score normalised between the null detector (never detects: every window missed) and the
/// perfect one (detects every window at its first row, nothing else).
/// </summary>
public sealed record NabResult(
    NabProfile Profile, double Threshold, double RawScore, double NullScore, double PerfectScore,
    int TruePositives, int FalsePositives, int FalseNegatives, IReadOnlyList<NabFileScore> Files)
{
    public double NormalizedScore => 100.0 * (RawScore - NullScore) / (PerfectScore - NullScore);
}

/// <summary>
/// The NAB scoring, written from NAB's published description (Lavin &amp; Ahmad, ICMLA 2015, and the NAB wiki):
/// <list type="bullet">
/// <item>The first 15 % of each file (at most 750 rows) is a probationary period: detections there count for nothing.</item>
/// <item>A detection is a row whose anomaly score is at or above the threshold.</item>
/// <item>Inside a window only the earliest detection counts, weighted by the scaled sigmoid of its position:
///   σ(y) = 2/(1+e^{5y}) − 1, y = −(rows from it to the window's end, inclusive) / window width, so the window's
///   first row gives σ(−1) ≈ 0.987 (scaled to exactly 1 × tpWeight) and its last row about 0. Later detections in
///   the same window neither add nor cost.</item>
/// <item>A detection outside every window costs fpWeight × σ(y) with y = rows since the preceding window's end /
///   (that window's width − 1): slightly negative just after a window, −fpWeight from three widths on (σ = −1 there)
///   and before the first window.</item>
/// <item>A window without any detection costs fnWeight.</item>
/// <item>The threshold is swept over every score the detector produced; the one that maximises the sum over all
///   files is used, then normalised: 100 × (raw − null) / (perfect − null).</item>
/// </list>
/// </summary>
public static class NabScorer
{
    public const double ProbationaryPercent = 0.15;

    /// <summary>NAB caps the probationary period at 15 % of 5,000 rows, so a long file does not learn for ages.</summary>
    public static int ProbationaryRows(int rowCount) =>
        (int)Math.Min(Math.Floor(ProbationaryPercent * rowCount), ProbationaryPercent * 5000);

    /// <summary>σ(y) = 2/(1+e^{5y}) − 1 for y ≤ 3, else −1: about +1 early in a window, 0 at its end, −1 long after.</summary>
    public static double ScaledSigmoid(double relativePosition) =>
        relativePosition > 3.0 ? -1.0 : 2.0 / (1.0 + Math.Exp(5.0 * relativePosition)) - 1.0;

    /// <summary>The earliest detection's σ, which NAB scales to 1 so a perfect detection is worth exactly tpWeight.</summary>
    private static readonly double MaxTruePositive = ScaledSigmoid(-1.0);

    /// <summary>
    /// One row after the probationary period, as NAB weighs it if it were a detection: <see cref="Window"/> is the
    /// corpus-wide index of the window it lies in (−1 outside); <see cref="Position"/> is σ of its relative position
    /// (before any profile weight: in a window scaled to 1 at the window's start, outside it ≤ 0).
    /// </summary>
    internal readonly record struct WeighedRow(double AnomalyScore, double Position, int Window);

    /// <summary>Weighs the rows of one series; windows are numbered from <paramref name="firstWindow"/>.</summary>
    internal static void WeighRows(NabSeries series, IReadOnlyList<double> anomalyScores, int firstWindow, List<WeighedRow> into)
    {
        if (anomalyScores.Count != series.Timestamps.Length)
        {
            throw new ArgumentException(
                $"{series.RelativePath}: {anomalyScores.Count} anomaly scores for {series.Timestamps.Length} rows", nameof(anomalyScores));
        }
        var timestamps = series.Timestamps;
        var probation = ProbationaryRows(timestamps.Length);
        var nextWindow = 0;
        var inWindow = -1;               // index into series.Windows while inside one
        var windowEnd = -1;              // row index of the current window's last row
        var windowWidth = 0;
        var previousEnd = -1;            // row index of the last row of the window most recently left
        var previousWidth = 0;

        for (var i = 0; i < timestamps.Length; i++)
        {
            // A window no row falls in (its end before this row) has nothing to detect; NAB's windows always hold rows.
            while (inWindow < 0 && nextWindow < series.Windows.Length && timestamps[i] > series.Windows[nextWindow].End)
            {
                nextWindow++;
            }
            if (inWindow < 0 && nextWindow < series.Windows.Length && timestamps[i] >= series.Windows[nextWindow].Start)
            {
                inWindow = nextWindow++;
                windowEnd = i;
                while (windowEnd + 1 < timestamps.Length && timestamps[windowEnd + 1] <= series.Windows[inWindow].End)
                {
                    windowEnd++;
                }
                windowWidth = windowEnd - i + 1;
            }

            double position;
            if (inWindow >= 0)
            {
                position = ScaledSigmoid(-(double)(windowEnd - i + 1) / windowWidth) / MaxTruePositive;
            }
            else if (previousEnd < 0)
            {
                position = -1.0; // before the first window: a plain false positive
            }
            else
            {
                // A window of one row has no width to measure by: anything after it is simply late.
                position = previousWidth > 1 ? ScaledSigmoid((double)(i - previousEnd) / (previousWidth - 1)) : -1.0;
            }

            if (i >= probation)
            {
                into.Add(new WeighedRow(anomalyScores[i], position, inWindow >= 0 ? firstWindow + inWindow : -1));
            }

            if (inWindow >= 0 && i == windowEnd)
            {
                previousEnd = windowEnd;
                previousWidth = windowWidth;
                inWindow = -1;
            }
        }
    }

    /// <summary>Scores a detector on a corpus under each profile: one score array per series, in corpus order.</summary>
    public static IReadOnlyList<NabResult> Score(IReadOnlyList<NabSeries> corpus, IReadOnlyList<IReadOnlyList<double>> anomalyScores,
        IEnumerable<NabProfile> profiles)
    {
        var rows = new List<WeighedRow>(corpus.Sum(s => s.Timestamps.Length));
        var windowCount = 0;
        for (var f = 0; f < corpus.Count; f++)
        {
            WeighRows(corpus[f], anomalyScores[f], windowCount, rows);
            windowCount += corpus[f].Windows.Length;
        }
        // Highest score first: lowering the threshold past a score turns its rows into detections.
        var order = rows.ToArray();
        Array.Sort(order, static (a, b) => b.AnomalyScore.CompareTo(a.AnomalyScore));

        var results = new List<NabResult>();
        foreach (var profile in profiles)
        {
            var threshold = BestThreshold(order, windowCount, profile, out var raw);
            var files = new List<NabFileScore>(corpus.Count);
            for (var f = 0; f < corpus.Count; f++)
            {
                files.Add(ScoreFile(corpus[f], anomalyScores[f], profile, threshold));
            }
            results.Add(new NabResult(profile, threshold, raw,
                NullScore: -profile.FnWeight * windowCount, PerfectScore: profile.TpWeight * windowCount,
                files.Sum(x => x.TruePositives), files.Sum(x => x.FalsePositives), files.Sum(x => x.FalseNegatives), files));
        }
        return results;
    }

    /// <summary>
    /// Sweeps the threshold down through every distinct score (rows sorted by score, highest first) and returns the one
    /// with the highest total; ties go to the higher threshold. Above every score nothing is detected (the null total).
    /// </summary>
    internal static double BestThreshold(WeighedRow[] sortedByScoreDescending, int windowCount, NabProfile profile, out double bestTotal)
    {
        var earliestInWindow = new double[windowCount];
        Array.Fill(earliestInWindow, double.NaN);
        var total = -profile.FnWeight * windowCount;
        bestTotal = total;
        var bestThreshold = double.PositiveInfinity;

        var i = 0;
        while (i < sortedByScoreDescending.Length)
        {
            var threshold = sortedByScoreDescending[i].AnomalyScore;
            // Every row with this same score becomes a detection together.
            for (; i < sortedByScoreDescending.Length && sortedByScoreDescending[i].AnomalyScore == threshold; i++)
            {
                var row = sortedByScoreDescending[i];
                if (row.Window < 0)
                {
                    total += profile.FpWeight * row.Position;
                }
                else if (double.IsNaN(earliestInWindow[row.Window]))
                {
                    // The window's first detection: no longer missed, and worth its position.
                    total += profile.FnWeight + profile.TpWeight * row.Position;
                    earliestInWindow[row.Window] = row.Position;
                }
                else if (row.Position > earliestInWindow[row.Window])
                {
                    // An earlier row of a window already detected: only the earliest detection counts.
                    total += profile.TpWeight * (row.Position - earliestInWindow[row.Window]);
                    earliestInWindow[row.Window] = row.Position;
                }
            }
            if (total > bestTotal)
            {
                bestTotal = total;
                bestThreshold = threshold;
            }
        }
        return bestThreshold;
    }

    /// <summary>One series' raw score and counts at a fixed threshold (a detection is a score ≥ threshold).</summary>
    public static NabFileScore ScoreFile(NabSeries series, IReadOnlyList<double> anomalyScores, NabProfile profile, double threshold)
    {
        var rows = new List<WeighedRow>();
        WeighRows(series, anomalyScores, 0, rows);
        var earliest = new double[series.Windows.Length];
        Array.Fill(earliest, double.NaN);
        var falsePositiveTotal = 0.0;
        var falsePositives = 0;
        foreach (var row in rows)
        {
            if (row.AnomalyScore < threshold)
            {
                continue;
            }
            if (row.Window < 0)
            {
                falsePositiveTotal += profile.FpWeight * row.Position;
                falsePositives++;
            }
            else if (double.IsNaN(earliest[row.Window]) || row.Position > earliest[row.Window])
            {
                earliest[row.Window] = row.Position;
            }
        }
        var detected = earliest.Count(p => !double.IsNaN(p));
        var missed = earliest.Length - detected;
        var raw = falsePositiveTotal - profile.FnWeight * missed
            + profile.TpWeight * earliest.Where(p => !double.IsNaN(p)).Sum();
        return new NabFileScore(series.RelativePath, raw, detected, falsePositives, missed);
    }
}
