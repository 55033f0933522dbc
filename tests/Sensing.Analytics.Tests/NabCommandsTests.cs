using System.Globalization;
using Sensing.Analytics.Nab;

namespace Sensing.Analytics.Tests;

/// <summary>The NAB commands on a small NAB-shaped data set written to a temporary folder (real files, no shared data).</summary>
public sealed class NabCommandsTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sensing-nab-" + Guid.NewGuid().ToString("N"));

    public NabCommandsTests()
    {
        // Two series of 400 five-minute rows: a noisy level with a jump to a never-seen level inside the window, and
        // one with no window at all.
        var random = new Random(7);
        WriteSeries("synthetic/jump.csv", i => 10 + random.NextDouble() + (i is >= 300 and < 320 ? 25 : 0));
        WriteSeries("synthetic/quiet.csv", i => 5 + random.NextDouble());
        Directory.CreateDirectory(Path.Combine(_root, "labels"));
        File.WriteAllText(Path.Combine(_root, NabCorpus.WindowsFile), """
            {
              "synthetic/jump.csv": [["2024-01-02 01:00:00.000000", "2024-01-02 04:15:00.000000"]],
              "synthetic/quiet.csv": []
            }
            """);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void WriteSeries(string relativePath, Func<int, double> value)
    {
        var path = Path.Combine(_root, "data", relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var start = new DateTime(2024, 1, 1, 0, 0, 0);
        File.WriteAllLines(path, ["timestamp,value", .. Enumerable.Range(0, 400).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $"{start.AddMinutes(5 * i):yyyy-MM-dd HH:mm:ss},{value(i):F3}"))]);
    }

    [Fact]
    public void Corpus_loads_series_windows_and_default_profiles()
    {
        var corpus = NabCorpus.Load(_root);

        Assert.Equal(["synthetic/jump.csv", "synthetic/quiet.csv"], corpus.Series.Select(s => s.RelativePath));
        Assert.Equal(800, corpus.RowCount);
        var window = Assert.Single(corpus.Series[0].Windows);
        Assert.Equal(new DateTime(2024, 1, 2, 1, 0, 0), window.Start);
        Assert.Equal(NabProfile.Published, corpus.Profiles);
        Assert.Equal(("synthetic", "jump"), corpus.Series[0].Parts);
    }

    [Fact]
    public void Nab_writes_result_files_that_nab_score_scores_the_same()
    {
        var results = Path.Combine(_root, "results");
        var nabOutput = new StringWriter();
        var error = new StringWriter();

        Assert.True(NabCommands.RunNab(["--data", _root, "--results-out", results], nabOutput, error) == 0, error.ToString());
        var resultFile = Path.Combine(results, "sensing", "synthetic", "sensing_jump.csv");
        var lines = File.ReadAllLines(resultFile);
        Assert.Equal("timestamp,value,anomaly_score,label", lines[0]);
        Assert.Equal(401, lines.Length);
        // The window's rows are labelled 1, the others 0.
        Assert.Equal(40, lines.Skip(1).Count(l => l.EndsWith(",1", StringComparison.Ordinal)));

        var scoreOutput = new StringWriter();
        Assert.True(NabCommands.RunNabScore(["--results", results, "--detector", "sensing", "--data", _root], scoreOutput, error) == 0, error.ToString());
        Assert.Equal(ProfileLines(nabOutput.ToString()), ProfileLines(scoreOutput.ToString()));
        // The jump to a never-seen level is found, early in its window, and nothing else is.
        var standard = ProfileLines(nabOutput.ToString())[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("standard", standard[0]);
        Assert.True(double.Parse(standard[1], CultureInfo.InvariantCulture) >= 90, string.Join(' ', standard));
        Assert.Equal(["1", "0", "0"], standard[4..7]);
    }

    private static string[] ProfileLines(string output) =>
        [.. output.Split('\n').Where(l => l.StartsWith("standard", StringComparison.Ordinal) || l.StartsWith("reward_", StringComparison.Ordinal))];

    [Fact]
    public void Nab_score_names_the_missing_or_mismatched_result_file()
    {
        var results = Path.Combine(_root, "results", "other", "synthetic");
        Directory.CreateDirectory(results);
        var error = new StringWriter();

        Assert.Equal(1, NabCommands.RunNabScore(["--results", Path.Combine(_root, "results"), "--detector", "other", "--data", _root], new StringWriter(), error));
        Assert.Contains("other_jump.csv is missing", error.ToString(), StringComparison.Ordinal);

        File.WriteAllLines(Path.Combine(results, "other_jump.csv"), ["timestamp,anomaly_score", "2024-01-01 00:05:00,0.5"]);
        File.WriteAllLines(Path.Combine(results, "other_quiet.csv"), ["timestamp,anomaly_score"]);
        error = new StringWriter();
        Assert.Equal(1, NabCommands.RunNabScore(["--results", Path.Combine(_root, "results"), "--detector", "other", "--data", _root], new StringWriter(), error));
        Assert.Contains("line 2: timestamp '2024-01-01 00:05:00' is not row 1", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Nab_commands_refuse_bad_options_and_a_folder_that_is_no_data_set()
    {
        var error = new StringWriter();
        Assert.Equal(2, NabCommands.RunNabScore(["--detector", "x"], new StringWriter(), error));
        Assert.Contains("--results and --detector are required", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, NabCommands.RunNab(["--bogus"], new StringWriter(), error));
        Assert.Contains("unknown option '--bogus'", error.ToString(), StringComparison.Ordinal);

        error = new StringWriter();
        Assert.Equal(1, NabCommands.RunNab(["--data", Path.Combine(_root, "data")], new StringWriter(), error));
        Assert.Contains("is not a NAB data set", error.ToString(), StringComparison.Ordinal);
    }
}
