using Sensing.Analytics.Nab;

namespace Sensing.Analytics.Tests;

/// <summary>
/// The NAB scoring on hand-made cases. One series of 100 one-minute rows: probation is the first 15 rows, one window
/// covers rows 40–49 (10 rows). Expected figures are worked out by hand from σ(y) = 2/(1+e^{5y}) − 1:
/// σ(−1) = 0.98661430 (the earliest row, scaled to exactly 1); the last row y = −1/10, σ = 0.24491866 → 0.24824155;
/// the middle row 45, y = −5/10 → 0.85979257; row 42, y = −8/10 → 0.97710684.
/// </summary>
public sealed class NabScorerTests
{
    private static readonly DateTime T0 = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static NabSeries OneWindow(int rows = 100) => new(
        "test/one_window.csv",
        [.. Enumerable.Range(0, rows).Select(i => T0.AddMinutes(i))],
        new double[rows],
        [new NabWindow(T0.AddMinutes(40), T0.AddMinutes(49))]);

    private static double[] DetectionsAt(params int[] rows)
    {
        var scores = new double[100];
        foreach (var row in rows)
        {
            scores[row] = 1.0;
        }
        return scores;
    }

    private static NabFileScore Standard(params int[] detections) =>
        NabScorer.ScoreFile(OneWindow(), DetectionsAt(detections), NabProfile.Standard, threshold: 0.5);

    [Fact]
    public void Probation_is_15_percent_capped_at_750_rows()
    {
        Assert.Equal(15, NabScorer.ProbationaryRows(100));
        Assert.Equal(604, NabScorer.ProbationaryRows(4032));
        Assert.Equal(750, NabScorer.ProbationaryRows(5000));
        Assert.Equal(750, NabScorer.ProbationaryRows(22695));
    }

    [Fact]
    public void Detection_at_the_window_start_scores_exactly_the_true_positive_weight()
    {
        var score = Standard(40);
        Assert.Equal(1.0, score.RawScore, 1e-9);
        Assert.Equal((1, 0, 0), (score.TruePositives, score.FalsePositives, score.FalseNegatives));
    }

    [Fact]
    public void Detection_at_the_window_end_scores_near_zero_and_mid_window_in_between()
    {
        Assert.Equal(0.24824155, Standard(49).RawScore, 1e-7);
        Assert.Equal(0.85979257, Standard(45).RawScore, 1e-7);
    }

    [Fact]
    public void Only_the_earliest_detection_in_a_window_counts()
    {
        var score = Standard(42, 47, 49);
        Assert.Equal(0.97710684, score.RawScore, 1e-7);
        Assert.Equal((1, 0, 0), (score.TruePositives, score.FalsePositives, score.FalseNegatives));
    }

    [Fact]
    public void A_missed_window_costs_the_false_negative_weight_of_the_profile()
    {
        Assert.Equal(-1.0, Standard().RawScore, 1e-9);
        Assert.Equal(-2.0, NabScorer.ScoreFile(OneWindow(), DetectionsAt(), NabProfile.RewardLowFn, 0.5).RawScore, 1e-9);
    }

    [Fact]
    public void A_false_positive_just_after_the_window_costs_less_than_one_long_after_or_before_it()
    {
        // Row 52: 3 rows past the window's end, y = 3/(10 − 1); σ(1/3) = −0.68226179, × 0.11 = −0.07504880.
        var justAfter = Standard(52);
        Assert.Equal(-1.0 - 0.07504880, justAfter.RawScore, 1e-7);
        Assert.Equal((0, 1, 1), (justAfter.TruePositives, justAfter.FalsePositives, justAfter.FalseNegatives));
        // Row 90: y = 41/9 > 3, a full false positive; row 20, before any window: a full false positive too.
        Assert.Equal(1.0 - 0.11, Standard(40, 90).RawScore, 1e-9);
        Assert.Equal(1.0 - 0.11, Standard(20, 40).RawScore, 1e-9);
        Assert.Equal(1.0 - 0.22, NabScorer.ScoreFile(OneWindow(), DetectionsAt(20, 40), NabProfile.RewardLowFp, 0.5).RawScore, 1e-9);
    }

    [Fact]
    public void Detections_in_the_probationary_period_count_for_nothing()
    {
        var score = Standard(3, 10, 14);
        Assert.Equal(-1.0, score.RawScore, 1e-9);
        Assert.Equal((0, 0, 1), (score.TruePositives, score.FalsePositives, score.FalseNegatives));
    }

    [Fact]
    public void The_threshold_is_swept_to_the_best_total_per_profile()
    {
        // Ten detections before the window at 0.95, the window found mid-way at 0.9.
        var scores = new double[100];
        for (var row = 20; row < 30; row++)
        {
            scores[row] = 0.95;
        }
        scores[45] = 0.9;
        var results = NabScorer.Score([OneWindow()], [scores], NabProfile.Published);

        // Standard: above 0.95 nothing (−1); at 0.95 ten false positives (−2.1); at 0.9 −1.1 + 0.85979257 = −0.24020743.
        var standard = results[0];
        Assert.Equal(0.9, standard.Threshold);
        Assert.Equal(-0.24020743, standard.RawScore, 1e-7);
        Assert.Equal((-1.0, 1.0), (standard.NullScore, standard.PerfectScore));
        Assert.Equal(100 * (-0.24020743 + 1) / 2, standard.NormalizedScore, 1e-5);

        // Reward low FP: ten false positives cost 2.2, more than the window is worth: better to detect nothing.
        var lowFp = results[1];
        Assert.Equal(double.PositiveInfinity, lowFp.Threshold);
        Assert.Equal(-1.0, lowFp.RawScore, 1e-9);
        Assert.Equal(0.0, lowFp.NormalizedScore, 1e-9);
    }

    [Fact]
    public void A_perfect_detector_scores_100_and_the_corpus_total_is_the_sum_of_its_files()
    {
        var perfect = NabScorer.Score([OneWindow(), OneWindow()], [DetectionsAt(40), DetectionsAt(40)], [NabProfile.Standard])[0];
        Assert.Equal(100.0, perfect.NormalizedScore, 1e-9);

        var mixed = NabScorer.Score([OneWindow(), OneWindow()], [DetectionsAt(45, 90), DetectionsAt(52)], [NabProfile.Standard])[0];
        Assert.Equal(1.0, mixed.Threshold);
        Assert.Equal(mixed.Files.Sum(f => f.RawScore), mixed.RawScore, 1e-9);
        Assert.Equal(0.85979257 - 0.11 - 1.0 - 0.07504880, mixed.RawScore, 1e-7);
        Assert.Equal((1, 2, 1), (mixed.TruePositives, mixed.FalsePositives, mixed.FalseNegatives));
    }

    [Fact]
    public void Scores_must_match_the_series_rows()
    {
        Assert.Throws<ArgumentException>(() => NabScorer.Score([OneWindow()], [new double[99]], [NabProfile.Standard]));
    }
}
