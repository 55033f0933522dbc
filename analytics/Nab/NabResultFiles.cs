using System.Globalization;
using Sensing.Analytics.Streaming;

namespace Sensing.Analytics.Nab;

/// <summary>
/// NAB's result files: <c>&lt;results&gt;/&lt;detector&gt;/&lt;category&gt;/&lt;detector&gt;_&lt;series&gt;.csv</c> with at least
/// <c>timestamp</c> and <c>anomaly_score</c> columns, one row per data row.
/// </summary>
public static class NabResultFiles
{
    public static string PathOf(string detectorDirectory, string detector, NabSeries series)
    {
        var (category, name) = series.Parts;
        return Path.Combine(detectorDirectory, category, $"{detector}_{name}.csv");
    }

    /// <summary>
    /// The detector's folder under <paramref name="results"/>: <c>results/&lt;detector&gt;</c>, or <paramref name="results"/>
    /// itself when it already is one (holds the category folders).
    /// </summary>
    public static string DetectorDirectory(string results, string detector) =>
        Directory.Exists(Path.Combine(results, detector)) ? Path.Combine(results, detector) : results;

    /// <summary>Reads one result file's anomaly scores, checking that its rows are the series' rows.</summary>
    public static double[] ReadScores(string path, NabSeries series)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"no result file for {series.RelativePath}: {path} is missing", path);
        }
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new InvalidDataException($"{path}: the file is empty");
        var columns = header.Split(',').Select(c => c.Trim().ToLowerInvariant()).ToArray();
        var timestampColumn = Array.IndexOf(columns, "timestamp");
        var scoreColumn = Array.IndexOf(columns, "anomaly_score");
        if (timestampColumn < 0 || scoreColumn < 0)
        {
            throw new InvalidDataException($"{path}: line 1: expected the columns 'timestamp' and 'anomaly_score', found '{header}'");
        }
        var scores = new double[series.Timestamps.Length];
        var row = 0;
        var line = 1;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }
            var fields = text.Split(',');
            if (fields.Length <= Math.Max(timestampColumn, scoreColumn))
            {
                throw new InvalidDataException($"{path}: line {line}: too few fields");
            }
            if (row >= scores.Length)
            {
                throw new InvalidDataException($"{path}: line {line}: more rows than the {scores.Length} of {series.RelativePath}");
            }
            if (!SeriesCsv.TryParseTimestamp(fields[timestampColumn].Trim(), out var timestamp) || timestamp != series.Timestamps[row])
            {
                throw new InvalidDataException(
                    $"{path}: line {line}: timestamp '{fields[timestampColumn]}' is not row {row + 1} of {series.RelativePath} ({series.Timestamps[row]:yyyy-MM-dd HH:mm:ss})");
            }
            if (!double.TryParse(fields[scoreColumn], NumberStyles.Float, CultureInfo.InvariantCulture, out scores[row]) || double.IsNaN(scores[row]))
            {
                throw new InvalidDataException($"{path}: line {line}: anomaly_score '{fields[scoreColumn]}' is not a number");
            }
            row++;
        }
        if (row != scores.Length)
        {
            throw new InvalidDataException($"{path}: {row} rows, but {series.RelativePath} has {scores.Length}");
        }
        return scores;
    }

    /// <summary>Writes one result file as NAB lays it out: <c>timestamp,value,anomaly_score,label</c> (label 1 inside a window).</summary>
    public static void Write(string path, NabSeries series, IReadOnlyList<double> scores)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var writer = new StreamWriter(path);
        writer.Write("timestamp,value,anomaly_score,label\n");
        for (var i = 0; i < scores.Count; i++)
        {
            var timestamp = series.Timestamps[i];
            var label = series.Windows.Any(w => timestamp >= w.Start && timestamp <= w.End) ? 1 : 0;
            writer.Write(string.Create(CultureInfo.InvariantCulture,
                $"{timestamp:yyyy-MM-dd HH:mm:ss},{series.Values[i]:R},{scores[i]:R},{label}\n"));
        }
    }
}
