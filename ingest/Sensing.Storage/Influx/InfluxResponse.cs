using System.Text.Json;

namespace Sensing.Storage.Influx;

/// <summary>
/// The JSON answer of <c>/query</c>:
/// <code>
/// {"results":[{"statement_id":0,"series":[{"name":"meter","tags":{"device":"m1"},"columns":["time","sum"],"values":[[1763596800000,9]]}]}]}
/// </code>
/// A statement that failed carries <c>"error"</c> instead of <c>"series"</c> (with HTTP 200), and a result cut short
/// by the server's row limit carries <c>"partial":true</c>; both throw here rather than pass as an answer.
/// </summary>
internal sealed class InfluxResponse : IDisposable
{
    private readonly JsonDocument _document;

    private InfluxResponse(JsonDocument document) => _document = document;

    public static async Task<InfluxResponse> ReadAsync(Stream json, CancellationToken cancellationToken)
    {
        var document = await JsonDocument.ParseAsync(json, default, cancellationToken).ConfigureAwait(false);
        try
        {
            var root = document.RootElement;
            if (root.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException($"InfluxDB refused the query: {error}");
            }

            if (root.TryGetProperty("results", out var results) && results.ValueKind == JsonValueKind.Array)
            {
                foreach (var result in results.EnumerateArray())
                {
                    if (result.TryGetProperty("error", out var statementError))
                    {
                        throw new InvalidOperationException($"InfluxDB refused the query: {statementError.GetString()}");
                    }

                    if (result.TryGetProperty("partial", out var partial) && partial.ValueKind == JsonValueKind.True)
                    {
                        throw new InvalidDataException("InfluxDB cut the answer short (its max-row-limit); ask for fewer points.");
                    }
                }
            }

            return new InfluxResponse(document);
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    /// <summary>The series of the first statement's result (none when nothing matched).</summary>
    public IEnumerable<InfluxSeries> Series
    {
        get
        {
            if (!_document.RootElement.TryGetProperty("results", out var results) || results.GetArrayLength() == 0
                || !results[0].TryGetProperty("series", out var series))
            {
                yield break;
            }

            foreach (var one in series.EnumerateArray())
            {
                yield return new InfluxSeries(one);
            }
        }
    }

    public void Dispose() => _document.Dispose();
}

/// <summary>One series of a query answer: its group-by tags, column names and rows.</summary>
internal readonly struct InfluxSeries(JsonElement series)
{
    /// <summary>A GROUP BY tag's value; a tag the points do not carry comes back as the empty string.</summary>
    public string Tag(string key) =>
        series.TryGetProperty("tags", out var tags) && tags.TryGetProperty(key, out var value) ? value.GetString() ?? string.Empty : string.Empty;

    public int Column(string name)
    {
        var index = 0;
        foreach (var column in series.GetProperty("columns").EnumerateArray())
        {
            if (column.ValueEquals(name))
            {
                return index;
            }

            index++;
        }

        throw new InvalidDataException($"InfluxDB's answer lacks the column '{name}'.");
    }

    public IEnumerable<JsonElement> Rows =>
        series.TryGetProperty("values", out var values) ? values.EnumerateArray() : Enumerable.Empty<JsonElement>();
}
