using System.Globalization;
using Sensing.Analytics.Streaming;

namespace Sensing.Analytics.Tests;

/// <summary>The <c>score</c> command end to end on real files in a temporary folder.</summary>
public sealed class ScoreCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sensing-score-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string WriteInput(string name, IEnumerable<string> lines)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static IEnumerable<string> Series(int rows, int spikeAt)
    {
        var random = new Random(11);
        var start = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.FromHours(8));
        yield return "timestamp,value";
        for (var i = 0; i < rows; i++)
        {
            var value = i == spikeAt ? 500 : 20 + 5 * Math.Sin(i / 20.0) + random.NextDouble();
            yield return string.Create(CultureInfo.InvariantCulture, $"{start.AddMinutes(15 * i):yyyy-MM-ddTHH:mm:sszzz},{value:F2}");
        }
    }

    private static (int Exit, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = ScoreCommand.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Every_input_row_gets_one_score_in_0_to_1_in_input_order()
    {
        var input = WriteInput("series.csv", Series(1200, spikeAt: 900));
        var output = Path.Combine(_folder, "scores.csv");

        var (exit, _, error) = Run("--input", input, "--output", output);

        Assert.True(exit == 0, error);
        Assert.Contains("1200 rows scored", error, StringComparison.Ordinal);
        var inputLines = File.ReadAllLines(input);
        var outputLines = File.ReadAllLines(output);
        Assert.Equal("timestamp,value,anomaly_score", outputLines[0]);
        Assert.Equal(inputLines.Length, outputLines.Length);
        for (var i = 1; i < inputLines.Length; i++)
        {
            // Timestamp and value exactly as written, then the score.
            Assert.StartsWith(inputLines[i] + ",", outputLines[i], StringComparison.Ordinal);
        }
        var scores = outputLines.Skip(1).Select(l => double.Parse(l.Split(',')[2], CultureInfo.InvariantCulture)).ToArray();
        Assert.All(scores, s => Assert.InRange(s, 0.0, 1.0));
        Assert.Equal(900, Array.IndexOf(scores, scores.Max()));
        Assert.False(File.Exists(output + $".{Environment.ProcessId}.tmp"));
    }

    [Fact]
    public void Scoring_is_deterministic_and_a_prefix_scores_the_same()
    {
        var input = WriteInput("series.csv", Series(1200, spikeAt: 900));
        var prefix = WriteInput("prefix.csv", Series(1200, spikeAt: 900).Take(951));
        string[] Score(string path, string name)
        {
            var output = Path.Combine(_folder, name);
            Assert.Equal(0, Run("--input", path, "--output", output).Exit);
            return File.ReadAllLines(output);
        }

        var first = Score(input, "a.csv");
        Assert.Equal(first, Score(input, "b.csv"));
        Assert.Equal(first[..951], Score(prefix, "c.csv"));
    }

    [Fact]
    public void Bad_rows_are_reported_with_line_numbers_and_the_rest_is_scored()
    {
        var input = WriteInput("mixed.csv",
        [
            "timestamp,value",
            "2026-11-20T00:00:00Z,1.5",
            "2026-11-20T00:15:00Z,lots",
            "yesterday,3",
            "2026-11-20T00:45:00Z",
            "",
            "2026-11-20T01:00:00Z,NaN",
            "1763600400000,2.5",
        ]);
        var output = Path.Combine(_folder, "scores.csv");

        var (exit, _, error) = Run("--input", input, "--output", output);

        Assert.Equal(3, exit);
        Assert.Contains("line 3: value 'lots' is not a finite number", error, StringComparison.Ordinal);
        Assert.Contains("line 4: timestamp 'yesterday' is not an ISO 8601 time or epoch milliseconds", error, StringComparison.Ordinal);
        Assert.Contains("line 5: expected at least 2 fields, found 1", error, StringComparison.Ordinal);
        Assert.Contains("line 7: value 'NaN' is not a finite number", error, StringComparison.Ordinal);
        Assert.Contains("2 rows scored, 4 rejected", error, StringComparison.Ordinal);
        Assert.Equal(["timestamp,value,anomaly_score", "2026-11-20T00:00:00Z,1.5,0", "1763600400000,2.5,0"], File.ReadAllLines(output));
    }

    [Fact]
    public void Columns_are_found_by_name()
    {
        var input = WriteInput("columns.csv", ["device,value,timestamp", "m-1,4,2026-11-20 00:00:00", "m-1,5,2026-11-20 00:15:00"]);
        var output = Path.Combine(_folder, "scores.csv");
        Assert.Equal(0, Run("--input", input, "--output", output).Exit);
        Assert.Equal(["timestamp,value,anomaly_score", "2026-11-20 00:00:00,4,0", "2026-11-20 00:15:00,5,0"], File.ReadAllLines(output));
    }

    [Fact]
    public void A_file_that_cannot_be_scored_fails_clearly_and_leaves_no_output()
    {
        var output = Path.Combine(_folder, "scores.csv");

        var missing = Run("--input", Path.Combine(_folder, "nope.csv"), "--output", output);
        Assert.Equal(1, missing.Exit);
        Assert.Contains("nope.csv' does not exist", missing.Error, StringComparison.Ordinal);

        var header = Run("--input", WriteInput("header.csv", ["time,reading", "2026-11-20T00:00:00Z,1"]), "--output", output);
        Assert.Equal(1, header.Exit);
        Assert.Contains("line 1: the header must name the columns 'timestamp' and 'value', found 'time,reading'", header.Error, StringComparison.Ordinal);

        var empty = Run("--input", WriteInput("empty.csv", []), "--output", output);
        Assert.Equal(1, empty.Exit);
        Assert.Contains("the file is empty", empty.Error, StringComparison.Ordinal);

        var folder = Run("--input", WriteInput("ok.csv", ["timestamp,value"]), "--output", Path.Combine(_folder, "no", "such", "scores.csv"));
        Assert.Equal(1, folder.Exit);
        Assert.Contains("output folder", folder.Error, StringComparison.Ordinal);

        Assert.Empty(Directory.GetFiles(_folder, "scores.csv*"));
    }

    [Fact]
    public void Options_are_checked()
    {
        Assert.Equal(2, Run("--input", "x.csv").Exit);
        var unknown = Run("--input", "x.csv", "--output", "y.csv", "--fast");
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("unknown option '--fast'", unknown.Error, StringComparison.Ordinal);
        var help = Run("--help");
        Assert.Equal(0, help.Exit);
        Assert.Contains("timestamp,value,anomaly_score", help.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Standard_input_and_output_work_with_a_dash()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = ScoreCommand.Run(["--input", "-", "--output", "-"], output, error,
            new StringReader("timestamp,value\n2026-11-20T00:00:00Z,7\n"));
        Assert.Equal(0, exit);
        Assert.Equal("timestamp,value,anomaly_score\n2026-11-20T00:00:00Z,7,0\n", output.ToString());
    }
}
