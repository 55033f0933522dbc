using System.Globalization;

namespace Sensing.Analytics.Streaming;

/// <summary>One row of a univariate series: its line in the file, its timestamp and value as written, and parsed.</summary>
public readonly record struct SeriesRow(int Line, string TimestampText, DateTime Timestamp, string ValueText, double Value);

/// <summary>A row that could not be read, with its line number and why.</summary>
public sealed record RejectedRow(int Line, string Reason);

/// <summary>
/// Reads a <c>timestamp,value</c> CSV one row at a time (bounded memory, any file size). The header names the
/// columns (case-insensitive, in any order, extra columns ignored). A row that cannot be read is handed to
/// <c>onRejected</c> with its line number and reason and skipped; reading carries on.
/// Timestamps are RFC 3339 / ISO 8601 (<c>2014-07-01 00:00:00</c>, <c>2014-07-01T00:00:00Z</c>) or Unix epoch
/// milliseconds; times without an offset are taken as they are (no time zone is assumed or applied).
/// </summary>
public static class SeriesCsv
{
    public static IEnumerable<SeriesRow> Read(TextReader reader, string source, Action<RejectedRow> onRejected)
    {
        var header = reader.ReadLine();
        if (header is null)
        {
            throw new InvalidDataException($"{source}: the file is empty (expected a 'timestamp,value' header)");
        }
        var columns = header.TrimStart('\uFEFF').Split(',').Select(c => c.Trim().Trim('"').ToLowerInvariant()).ToArray();
        var timestampColumn = Array.IndexOf(columns, "timestamp");
        var valueColumn = Array.IndexOf(columns, "value");
        if (timestampColumn < 0 || valueColumn < 0)
        {
            throw new InvalidDataException(
                $"{source}: line 1: the header must name the columns 'timestamp' and 'value', found '{header}'");
        }
        var needed = Math.Max(timestampColumn, valueColumn) + 1;

        var line = 1;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (text.Length == 0 || string.IsNullOrWhiteSpace(text))
            {
                continue; // A blank line (typically the last) is no row.
            }
            var fields = text.Split(',');
            if (fields.Length < needed)
            {
                onRejected(new RejectedRow(line, $"expected at least {needed} fields, found {fields.Length}"));
                continue;
            }
            var timestampText = fields[timestampColumn].Trim().Trim('"');
            if (!TryParseTimestamp(timestampText, out var timestamp))
            {
                onRejected(new RejectedRow(line, $"timestamp '{timestampText}' is not an ISO 8601 time or epoch milliseconds"));
                continue;
            }
            var valueText = fields[valueColumn].Trim().Trim('"');
            if (!double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                onRejected(new RejectedRow(line, $"value '{valueText}' is not a finite number"));
                continue;
            }
            yield return new SeriesRow(line, timestampText, timestamp, valueText, value);
        }
    }

    /// <summary>Reads a whole file, failing on the first bad row (for data sets that must be clean, such as NAB).</summary>
    public static List<SeriesRow> ReadAll(string path)
    {
        using var reader = new StreamReader(path);
        return Read(reader, path, rejected => throw new InvalidDataException($"{path}: line {rejected.Line}: {rejected.Reason}")).ToList();
    }

    public static bool TryParseTimestamp(string text, out DateTime timestamp)
    {
        if (DateTime.TryParse(text, CultureInfo.InvariantCulture,
                DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out timestamp))
        {
            return true;
        }
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var epochMilliseconds)
            && epochMilliseconds is >= -62135596800000 and <= 253402300799999)
        {
            timestamp = DateTime.UnixEpoch.AddMilliseconds(epochMilliseconds);
            return true;
        }
        return false;
    }
}
