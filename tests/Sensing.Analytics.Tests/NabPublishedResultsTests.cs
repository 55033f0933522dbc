using Sensing.Analytics.Nab;

namespace Sensing.Analytics.Tests;

/// <summary>
/// The scorer against NAB's own published figures: the windowedGaussian baseline's result files (shipped with the
/// data set) must score what NAB publishes for them: standard 39.6, reward-low-FP 20.9, reward-low-FN 47.4
/// (NAB's results/final_results.json: 39.649523496077585, 20.86798582474138, 47.4100271583046).
/// Reads the real data set (58 series, 365,558 rows, plus 58 result files).
/// </summary>
[Trait("Category", "Integration")]
public sealed class NabPublishedResultsTests
{
    [Fact]
    public void Windowed_gaussian_results_reproduce_the_published_scores()
    {
        var corpus = NabCorpus.Load(NabDataSet.Root());
        Assert.Equal(58, corpus.Series.Count);
        Assert.Equal(116, corpus.WindowCount);
        Assert.Equal(365_558, corpus.RowCount);

        var detectorDirectory = NabResultFiles.DetectorDirectory(Path.Combine(corpus.Root, "results"), "windowedGaussian");
        var scores = corpus.Series.Select(s => NabResultFiles.ReadScores(NabResultFiles.PathOf(detectorDirectory, "windowedGaussian", s), s)).ToArray();
        var results = NabScorer.Score(corpus.Series, scores, corpus.Profiles).ToDictionary(r => r.Profile.Name);

        Assert.Equal(39.6, Math.Round(results["standard"].NormalizedScore, 1));
        Assert.Equal(20.9, Math.Round(results["reward_low_FP_rate"].NormalizedScore, 1));
        Assert.Equal(47.4, Math.Round(results["reward_low_FN_rate"].NormalizedScore, 1));
        Assert.Equal(39.649523496077585, results["standard"].NormalizedScore, 1e-6);
        Assert.Equal(20.86798582474138, results["reward_low_FP_rate"].NormalizedScore, 1e-6);
        Assert.Equal(47.4100271583046, results["reward_low_FN_rate"].NormalizedScore, 1e-6);
    }

    [Fact]
    public void The_nab_score_command_prints_the_published_standard_score()
    {
        var root = NabDataSet.Root();
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = NabCommands.RunNabScore(["--results", Path.Combine(root, "results"), "--detector", "windowedGaussian", "--data", root], output, error);

        Assert.True(exit == 0, error.ToString());
        var standard = output.ToString().Split('\n').Single(l => l.StartsWith("standard ", StringComparison.Ordinal));
        Assert.Contains(" 39.65 ", standard, StringComparison.Ordinal);
    }
}

/// <summary>Where the shared NAB data set is: <c>SENSING_NAB_DIR</c>, else <c>shared/datasets/nab</c> above the test's folder.</summary>
internal static class NabDataSet
{
    public static string Root() =>
        NabCorpus.FindDefaultRoot()
        ?? throw new InvalidOperationException(
            "The NAB data set was not found: set SENSING_NAB_DIR or place it at shared/datasets/nab beside the repository's checkout.");
}
