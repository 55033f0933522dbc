using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Sensing.Telemetry;

namespace Sensing.Storage.Influx;

/// <summary>
/// One household's data: its export and its erasure (<see cref="IHouseholdDataStore"/>). InfluxQL's <c>DELETE</c> and
/// <c>DROP SERIES</c> filter on tags and time only, so what a tag names goes in one statement (a meter's household, a
/// device), and what only a field names (the household of a gate pass, a dead letter's payload) is found with a
/// <c>SELECT</c> first and deleted point by point: measurement, its series' tags and its exact nanosecond.
/// </summary>
public sealed partial class InfluxDbReadingStore : IHouseholdDataStore
{
    /// <summary>Points per page of an export or a scan: bounds the JSON answer held in memory at once.</summary>
    private const int PageSize = 5_000;

    /// <summary>Statements per <c>/query</c> POST when deleting point by point.</summary>
    private const int StatementsPerRequest = 200;

    private static readonly string[] s_readingMeasurements =
        [InfluxSchema.Meter, InfluxSchema.Gate, InfluxSchema.Parking, InfluxSchema.Camera, InfluxSchema.OtherReadings];

    public async IAsyncEnumerable<Reading> HouseholdReadingsAsync(HouseholdScope scope, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        // Measurement by measurement (each in time order): a meter's household is a tag, elsewhere a field.
        foreach (var measurement in s_readingMeasurements)
        {
            await foreach (var point in HouseholdPointsAsync(measurement, scope, cancellationToken).ConfigureAwait(false))
            {
                yield return point.Reading;
            }
        }
    }

    public async IAsyncEnumerable<DeadLetter> HouseholdDeadLettersAsync(HouseholdScope scope, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await foreach (var (letter, _) in DeadLetterPointsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (scope.Owns(letter)) yield return letter;
        }
    }

    public async Task<IReadOnlyList<Alert>> HouseholdAlertsAsync(HouseholdScope scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var all = await LoadAsync(DateTimeOffset.MinValue, cancellationToken).ConfigureAwait(false);
        return [.. all.Where(scope.Owns)];
    }

    public async Task<HouseholdErasure> EraseHouseholdAsync(HouseholdScope scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var statements = new List<string>();
        long readings = 0;
        foreach (var measurement in s_readingMeasurements)
        {
            await foreach (var point in HouseholdPointsAsync(measurement, scope, cancellationToken).ConfigureAwait(false))
            {
                readings++;
                if (measurement == InfluxSchema.Meter || scope.Devices.Contains(point.Reading.Device, StringComparer.Ordinal))
                {
                    continue; // deleted below, by tag, series and all
                }
                // A gate pass (or another non-meter reading) tagged with the household only in a field: this point alone.
                var r = point.Reading;
                statements.Add($"DELETE FROM {InfluxQl.Identifier(measurement)} WHERE "
                    + $"{InfluxQl.Identifier(InfluxSchema.DeviceTag)} = {InfluxQl.Literal(r.Device)} AND "
                    + $"{InfluxQl.Identifier(InfluxSchema.MetricTag)} = {InfluxQl.Literal(r.Metric)} AND "
                    + $"{InfluxQl.Identifier(InfluxSchema.LabelTag)} = {InfluxQl.Literal(r.Label ?? string.Empty)} AND "
                    + $"time >= {point.Nanos} AND time <= {point.Nanos}");
            }
        }

        statements.Add($"DROP SERIES FROM {InfluxQl.Identifier(InfluxSchema.Meter)} WHERE {InfluxQl.Identifier(InfluxSchema.HouseholdTag)} = {InfluxQl.Literal(scope.Household)}");
        foreach (var device in scope.Devices)
        {
            // Without FROM: the device's series in every measurement (dead letters and alerts carry no device tag).
            statements.Add($"DROP SERIES WHERE {InfluxQl.Identifier(InfluxSchema.DeviceTag)} = {InfluxQl.Literal(device)}");
        }

        long letters = 0;
        await foreach (var (letter, nanos) in DeadLetterPointsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!scope.Owns(letter)) continue;
            letters++;
            statements.Add($"DELETE FROM {InfluxQl.Identifier(InfluxSchema.DeadLetters)} WHERE "
                + $"{InfluxQl.Identifier(InfluxSchema.FormatTag)} = {InfluxQl.Literal(letter.Format)} AND time >= {nanos} AND time <= {nanos}");
        }

        var alerts = await HouseholdAlertsAsync(scope, cancellationToken).ConfigureAwait(false);
        foreach (var alert in alerts)
        {
            statements.Add($"DROP SERIES FROM {InfluxQl.Identifier(InfluxSchema.Alerts)} WHERE {InfluxQl.Identifier(InfluxSchema.IdTag)} = {InfluxQl.Literal(alert.Id)}");
        }

        foreach (var chunk in statements.Chunk(StatementsPerRequest))
        {
            await ExecuteAsync(string.Join(";\n", chunk), cancellationToken).ConfigureAwait(false);
        }

        return new HouseholdErasure(readings, letters, alerts.Count);
    }

    /// <summary>The household's points of one measurement, oldest first, paged so no answer is bigger than a page.</summary>
    private async IAsyncEnumerable<(Reading Reading, long Nanos)> HouseholdPointsAsync(
        string measurement, HouseholdScope scope, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var where = new StringBuilder().Append(InfluxQl.Identifier(InfluxSchema.HouseholdTag)).Append(" = ").Append(InfluxQl.Literal(scope.Household));
        foreach (var device in scope.Devices)
        {
            where.Append(" OR ").Append(InfluxQl.Identifier(InfluxSchema.DeviceTag)).Append(" = ").Append(InfluxQl.Literal(device));
        }

        for (var offset = 0L; ; offset += PageSize)
        {
            var text = $"SELECT * FROM {InfluxQl.Identifier(measurement)} WHERE {where} ORDER BY time ASC LIMIT {PageSize} OFFSET {offset}";
            var page = new List<(Reading, long)>();
            using (var response = await QueryAsync(text, InfluxPrecision.Nanoseconds, cancellationToken).ConfigureAwait(false))
            {
                foreach (var series in response.Series)
                {
                    int community = series.Column(InfluxSchema.CommunityTag), device = series.Column(InfluxSchema.DeviceTag),
                        metric = series.Column(InfluxSchema.MetricTag), value = series.Column(InfluxSchema.ValueField);
                    int? grid = OptionalColumn(series, InfluxSchema.GridTag), household = OptionalColumn(series, InfluxSchema.HouseholdTag),
                        label = OptionalColumn(series, InfluxSchema.LabelTag), attributes = OptionalColumn(series, InfluxSchema.AttributesField);
                    foreach (var row in series.Rows)
                    {
                        var nanos = row[0].GetInt64();
                        page.Add((new Reading(
                            row[device].GetString()!, row[community].GetString()!, Text(row, grid), Text(row, household),
                            row[metric].GetString()!, LineProtocol.FromEpoch(nanos, InfluxPrecision.Nanoseconds), row[value].GetDouble(),
                            Text(row, label), Text(row, attributes)), nanos));
                    }
                }
            }

            foreach (var point in page) yield return point;
            if (page.Count < PageSize) yield break;
        }
    }

    /// <summary>Every dead letter with its exact nanosecond, oldest first, paged.</summary>
    private async IAsyncEnumerable<(DeadLetter Letter, long Nanos)> DeadLetterPointsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var fields = string.Join(',', new[]
        {
            InfluxSchema.TopicField, InfluxSchema.ReasonField, InfluxSchema.PayloadField, InfluxSchema.PayloadBytesField, InfluxSchema.FormatTag,
        }.Select(InfluxQl.Identifier));
        for (var offset = 0L; ; offset += PageSize)
        {
            var text = $"SELECT {fields} FROM {InfluxQl.Identifier(InfluxSchema.DeadLetters)} ORDER BY time ASC LIMIT {PageSize} OFFSET {offset}";
            var page = new List<(DeadLetter, long)>();
            using (var response = await QueryAsync(text, InfluxPrecision.Nanoseconds, cancellationToken).ConfigureAwait(false))
            {
                foreach (var series in response.Series)
                {
                    int topic = series.Column(InfluxSchema.TopicField), reason = series.Column(InfluxSchema.ReasonField),
                        payload = series.Column(InfluxSchema.PayloadField), bytes = series.Column(InfluxSchema.PayloadBytesField),
                        format = series.Column(InfluxSchema.FormatTag);
                    foreach (var row in series.Rows)
                    {
                        var nanos = row[0].GetInt64();
                        page.Add((new DeadLetter(
                            row[topic].GetString() ?? string.Empty,
                            Convert.FromBase64String(row[payload].GetString() ?? string.Empty),
                            checked((int)row[bytes].GetInt64()),
                            LineProtocol.FromEpoch(nanos, InfluxPrecision.Nanoseconds),
                            row[reason].GetString() ?? string.Empty,
                            row[format].ValueKind == JsonValueKind.String ? row[format].GetString()! : string.Empty), nanos));
                    }
                }
            }

            foreach (var point in page) yield return point;
            if (page.Count < PageSize) yield break;
        }
    }

    /// <summary>Runs statements that change data (DELETE, DROP SERIES): POST, as <c>/query</c> requires for anything but SELECT and SHOW.</summary>
    private async Task ExecuteAsync(string influxQl, CancellationToken cancellationToken)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        var path = "query?db=" + Uri.EscapeDataString(_options.QueryDatabase);
        if (!string.IsNullOrEmpty(_options.RetentionPolicy)) path += "&rp=" + Uri.EscapeDataString(_options.RetentionPolicy);
        using var request = NewRequest(HttpMethod.Post, path);
        request.Content = new FormUrlEncodedContent([new("q", influxQl)]);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, "delete", cancellationToken).ConfigureAwait(false);
        await using var json = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        (await InfluxResponse.ReadAsync(json, cancellationToken).ConfigureAwait(false)).Dispose();
    }

    private static int? OptionalColumn(InfluxSeries series, string name)
    {
        try
        {
            return series.Column(name);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement row, int? column) =>
        column is { } c && row[c].ValueKind == JsonValueKind.String && row[c].GetString() is { Length: > 0 } text ? text : null;
}
