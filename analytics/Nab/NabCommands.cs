using System.Diagnostics;
using System.Globalization;
using Sensing.Analytics.CommandLine;
using Sensing.Analytics.Streaming;

namespace Sensing.Analytics.Nab;

/// <summary>
/// <c>nab</c>: runs the streaming detector over every NAB series and prints its NAB scores;
/// <c>nab-score</c>: scores a detector's existing NAB result files (how the scorer is checked against published figures).
/// </summary>
public static class NabCommands
{
    public const string NabUsage = """
        usage: dotnet run -c Release --project analytics -- nab [--data DIR] [--results-out DIR] [--per-file]

        Scores every NAB series with the streaming detector (each series from a fresh detector, one pass, no look-ahead)
        and prints the NAB score under each profile, with the run time.
          --data DIR          the NAB data set (data/, labels/, config/); default: $SENSING_NAB_DIR, else the nearest
                              shared/datasets/nab above the working directory
          --results-out DIR   also write NAB result files to DIR/sensing/<category>/sensing_<series>.csv
          --per-file          print each series' raw standard score and counts
        """;

    public const string NabScoreUsage = """
        usage: dotnet run -c Release --project analytics -- nab-score --results DIR --detector NAME [--data DIR] [--per-file]

        Scores existing NAB result files (DIR/NAME/<category>/NAME_<series>.csv with timestamp and anomaly_score columns)
        and prints the NAB score under each profile. With NAB's published windowedGaussian results this prints 39.6.
          --results DIR       NAB's results/ folder (or the detector's own folder inside it)
          --detector NAME     the detector's name as in its file names (windowedGaussian)
          --data DIR          the NAB data set; default as for 'nab'
          --per-file          print each series' raw standard score and counts
        """;

    /// <summary>The detector name the <c>nab</c> command writes its result files under.</summary>
    public const string DetectorName = "sensing";

    public static int RunNab(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            output.WriteLine(NabUsage);
            return 0;
        }
        if (!CommandOptions.TryParse(args, new HashSet<string> { "--data", "--results-out" }, new HashSet<string> { "--per-file" },
                out var options, out var problem))
        {
            error.WriteLine($"nab: {problem}\n\n{NabUsage}");
            return 2;
        }
        if (!TryLoadCorpus("nab", options.Value("--data"), error, out var corpus))
        {
            return 1;
        }

        // Each series from a fresh detector, as NAB requires; the clock covers detection only, not file reading.
        var scores = new double[corpus.Series.Count][];
        var clock = Stopwatch.StartNew();
        for (var f = 0; f < corpus.Series.Count; f++)
        {
            var series = corpus.Series[f];
            var detector = new StreamingDetector();
            var seriesScores = new double[series.Values.Length];
            for (var i = 0; i < seriesScores.Length; i++)
            {
                seriesScores[i] = detector.Score(series.Timestamps[i], series.Values[i]);
            }
            scores[f] = seriesScores;
        }
        clock.Stop();

        if (options.Value("--results-out") is { } resultsOut)
        {
            var detectorDirectory = Path.Combine(resultsOut, DetectorName);
            for (var f = 0; f < corpus.Series.Count; f++)
            {
                NabResultFiles.Write(NabResultFiles.PathOf(detectorDirectory, DetectorName, corpus.Series[f]), corpus.Series[f], scores[f]);
            }
            output.WriteLine($"result files written to {detectorDirectory}");
        }

        var rows = corpus.RowCount;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"detector: {corpus.Series.Count} series, {rows:N0} rows in {clock.Elapsed.TotalSeconds:F2} s ({rows / clock.Elapsed.TotalSeconds:N0} rows/s, one thread)"));
        Report(corpus, scores, options.Has("--per-file"), output);
        return 0;
    }

    public static int RunNabScore(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            output.WriteLine(NabScoreUsage);
            return 0;
        }
        if (!CommandOptions.TryParse(args, new HashSet<string> { "--data", "--results", "--detector" }, new HashSet<string> { "--per-file" },
                out var options, out var problem))
        {
            error.WriteLine($"nab-score: {problem}\n\n{NabScoreUsage}");
            return 2;
        }
        if (options.Value("--results") is not { } results || options.Value("--detector") is not { } detector)
        {
            error.WriteLine($"nab-score: --results and --detector are required\n\n{NabScoreUsage}");
            return 2;
        }
        if (!Directory.Exists(results))
        {
            error.WriteLine($"nab-score: results folder '{results}' does not exist");
            return 1;
        }
        if (!TryLoadCorpus("nab-score", options.Value("--data"), error, out var corpus))
        {
            return 1;
        }
        var detectorDirectory = NabResultFiles.DetectorDirectory(results, detector);
        var scores = new double[corpus.Series.Count][];
        try
        {
            for (var f = 0; f < corpus.Series.Count; f++)
            {
                scores[f] = NabResultFiles.ReadScores(NabResultFiles.PathOf(detectorDirectory, detector, corpus.Series[f]), corpus.Series[f]);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            error.WriteLine($"nab-score: {ex.Message}");
            return 1;
        }
        output.WriteLine($"detector {detector}: result files from {detectorDirectory}");
        Report(corpus, scores, options.Has("--per-file"), output);
        return 0;
    }

    private static bool TryLoadCorpus(string verb, string? data, TextWriter error, out NabCorpus corpus)
    {
        corpus = null!;
        var root = data ?? NabCorpus.FindDefaultRoot();
        if (root is null)
        {
            error.WriteLine($"{verb}: no NAB data set found: pass --data DIR or set SENSING_NAB_DIR");
            return false;
        }
        try
        {
            corpus = NabCorpus.Load(root);
            return true;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or System.Text.Json.JsonException or FormatException)
        {
            error.WriteLine($"{verb}: {ex.Message}");
            return false;
        }
    }

    private static void Report(NabCorpus corpus, double[][] scores, bool perFile, TextWriter output)
    {
        var results = NabScorer.Score(corpus.Series, scores, corpus.Profiles);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"NAB corpus: {corpus.Series.Count} series, {corpus.RowCount:N0} rows, {corpus.WindowCount} windows ({corpus.Root})"));
        output.WriteLine("profile                score  threshold      raw    TP   FP   FN");
        foreach (var result in results)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.Profile.Name,-20} {result.NormalizedScore,6:F2}  {result.Threshold,9:G6} {result.RawScore,8:F2} {result.TruePositives,5} {result.FalsePositives,4} {result.FalseNegatives,4}"));
        }
        if (perFile)
        {
            var standard = results[0];
            output.WriteLine($"per series ({standard.Profile.Name}, threshold {standard.Threshold.ToString("G6", CultureInfo.InvariantCulture)}):");
            foreach (var file in standard.Files)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {file.RelativePath,-58} {file.RawScore,7:F2}  TP {file.TruePositives,2}  FP {file.FalsePositives,3}  FN {file.FalseNegatives,2}"));
            }
        }
    }
}
