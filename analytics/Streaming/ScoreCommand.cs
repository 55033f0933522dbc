using System.Globalization;
using Sensing.Analytics.CommandLine;

namespace Sensing.Analytics.Streaming;

/// <summary>
/// <c>score --input series.csv --output scores.csv</c>: one pass over a <c>timestamp,value</c> series with a fresh
/// <see cref="StreamingDetector"/>, writing <c>timestamp,value,anomaly_score</c> row by row (any file size, constant memory).
/// </summary>
public static class ScoreCommand
{
    public const string Usage = """
        usage: dotnet run -c Release --project analytics -- score --input series.csv --output scores.csv

        Scores a univariate series with the streaming detector: one anomaly score in [0,1] per row, each from the rows
        up to and including it (no look-ahead), in one pass. Input: a CSV whose header names 'timestamp' and 'value'
        (ISO 8601 or epoch-millisecond timestamps); output: timestamp,value,anomaly_score, rows in input order.
        '-' reads standard input / writes standard output.

        A row that cannot be read (missing field, bad timestamp, value not a finite number) is reported on standard
        error with its line number and left out of the output; the rest is scored.
        exit codes: 0 scored; 1 a file could not be read or written; 2 bad options; 3 scored, but rows were rejected
        """;

    /// <summary>Rejected rows reported one by one; beyond this only counted, so a wrong file does not flood the terminal.</summary>
    private const int ReportedRejections = 100;

    public static int Run(string[] args, TextWriter output, TextWriter error, TextReader? standardInput = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Contains("--help") || args.Contains("-h"))
        {
            output.WriteLine(Usage);
            return 0;
        }
        if (!CommandOptions.TryParse(args, new HashSet<string> { "--input", "--output" }, new HashSet<string>(), out var options, out var problem))
        {
            error.WriteLine($"score: {problem}\n\n{Usage}");
            return 2;
        }
        if (options.Value("--input") is not { Length: > 0 } input || options.Value("--output") is not { Length: > 0 } outputPath)
        {
            error.WriteLine($"score: --input and --output are required\n\n{Usage}");
            return 2;
        }
        if (input != "-" && !File.Exists(input))
        {
            error.WriteLine($"score: input file '{input}' does not exist");
            return 1;
        }
        if (outputPath != "-" && Path.GetDirectoryName(Path.GetFullPath(outputPath)) is { } directory && !Directory.Exists(directory))
        {
            error.WriteLine($"score: output folder '{directory}' does not exist");
            return 1;
        }

        // The output is written beside its final name and moved into place only when complete, so a failure
        // halfway never leaves a truncated scores file that looks finished.
        var temporary = outputPath == "-" ? null : outputPath + $".{Environment.ProcessId}.tmp";
        var rows = 0;
        var rejected = 0;
        try
        {
            using (var reader = input == "-" ? null : new StreamReader(input))
            using (var file = temporary is null ? null : new StreamWriter(temporary))
            {
                var source = input == "-" ? "stdin" : input;
                var writer = (TextWriter?)file ?? output;
                writer.Write("timestamp,value,anomaly_score\n");
                var detector = new StreamingDetector();
                foreach (var row in SeriesCsv.Read(reader ?? standardInput ?? Console.In, source, Reject))
                {
                    var score = detector.Score(row.Timestamp, row.Value);
                    writer.Write(row.TimestampText);
                    writer.Write(',');
                    writer.Write(row.ValueText);
                    writer.Write(',');
                    writer.Write(score.ToString("0.######", CultureInfo.InvariantCulture));
                    writer.Write('\n');
                    rows++;
                }
                writer.Flush();

                void Reject(RejectedRow bad)
                {
                    if (++rejected <= ReportedRejections)
                    {
                        error.WriteLine($"score: {source}: line {bad.Line}: {bad.Reason} (row left out)");
                    }
                }
            }
            if (temporary is not null)
            {
                File.Move(temporary, outputPath, overwrite: true);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            if (temporary is not null)
            {
                File.Delete(temporary);
            }
            error.WriteLine($"score: {ex.Message}");
            return 1;
        }

        if (rejected > ReportedRejections)
        {
            error.WriteLine($"score: … and {rejected - ReportedRejections} more rejected rows not listed");
        }
        error.WriteLine(rejected == 0
            ? $"score: {rows} rows scored"
            : $"score: {rows} rows scored, {rejected} rejected (listed above)");
        return rejected == 0 ? 0 : 3;
    }
}
