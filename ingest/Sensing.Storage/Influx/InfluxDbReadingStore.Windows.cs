using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Sensing.Telemetry;

namespace Sensing.Storage.Influx;

public sealed partial class InfluxDbReadingStore : IHourlyWindowStore
{
    /// <summary>
    /// Raw points folded here, a day of one metric per query: a gate's household is a field (see
    /// <see cref="InfluxSchema"/>), which InfluxQL cannot group by, and a point's own time is what the last time of an
    /// hour must be (InfluxQL's aggregates report their bucket's start). A day at a time keeps each answer to tens of
    /// megabytes for a street office's meters, and under a server's row limits.
    /// </summary>
    public async IAsyncEnumerable<HourlySeries> HourlyAsync(
        IReadOnlyList<string> metrics, DateTimeOffset from, DateTimeOffset to, string? community,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!HourlyWindowArguments.HasWork(metrics, from, to))
        {
            yield break;
        }

        var folded = new Dictionary<(long Hour, string Device, string Metric, string Label, string Household, string Community), (string Grid, long Count, double Sum, long Last)>();
        var value = InfluxQl.Identifier(InfluxSchema.ValueField);
        var household = InfluxQl.Identifier(InfluxSchema.HouseholdTag);
        var groupBy = string.Join(", ", new[] { InfluxSchema.DeviceTag, InfluxSchema.LabelTag, InfluxSchema.CommunityTag, InfluxSchema.GridTag }.Select(InfluxQl.Identifier));
        for (var start = from; start < to; start = start.AddDays(1))
        {
            var end = start.AddDays(1) < to ? start.AddDays(1) : to;
            foreach (var metric in metrics)
            {
                var where = new System.Text.StringBuilder()
                    .Append(CultureInfo.InvariantCulture, $"{InfluxQl.Identifier(InfluxSchema.MetricTag)} = {InfluxQl.Literal(metric)}")
                    .Append(CultureInfo.InvariantCulture, $" AND time >= {InfluxQl.Nanos(start)} AND time < {InfluxQl.Nanos(end)}");
                if (community is not null)
                {
                    where.Append(CultureInfo.InvariantCulture, $" AND {InfluxQl.Identifier(InfluxSchema.CommunityTag)} = {InfluxQl.Literal(community)}");
                }

                // A meter's household is a tag and a gate's a field: selected by name, either comes back as a column.
                var text = $"SELECT {value}, {household} FROM {InfluxQl.Identifier(InfluxSchema.MeasurementOf(metric))} WHERE {where} GROUP BY {groupBy}";
                using var response = await QueryAsync(text, _options.Precision, cancellationToken).ConfigureAwait(false);
                foreach (var series in response.Series)
                {
                    int valueColumn = series.Column(InfluxSchema.ValueField), householdColumn = series.Column(InfluxSchema.HouseholdTag);
                    var device = series.Tag(InfluxSchema.DeviceTag);
                    var label = series.Tag(InfluxSchema.LabelTag);
                    var seriesCommunity = series.Tag(InfluxSchema.CommunityTag);
                    var grid = series.Tag(InfluxSchema.GridTag);
                    foreach (var row in series.Rows)
                    {
                        if (row[valueColumn].ValueKind != JsonValueKind.Number) continue;
                        var time = LineProtocol.FromEpoch(row[0].GetInt64(), _options.Precision).UtcTicks;
                        var hour = time - time % TimeSpan.TicksPerHour;
                        var owner = row[householdColumn].ValueKind == JsonValueKind.String ? row[householdColumn].GetString() ?? string.Empty : string.Empty;
                        var key = (hour, device, metric, label, owner, seriesCommunity);
                        folded.TryGetValue(key, out var sums);
                        folded[key] = (grid, sums.Count + 1, sums.Sum + row[valueColumn].GetDouble(), Math.Max(sums.Last, time));
                    }
                }
            }
        }

        // The order the port promises: hour, then device, metric, label, household (none first) and community.
        foreach (var ((hour, device, metric, label, owner, seriesCommunity), (grid, count, sum, last)) in folded
                     .OrderBy(p => p.Key.Hour)
                     .ThenBy(p => p.Key.Device, StringComparer.Ordinal)
                     .ThenBy(p => p.Key.Metric, StringComparer.Ordinal)
                     .ThenBy(p => p.Key.Label, StringComparer.Ordinal)
                     .ThenBy(p => p.Key.Household, StringComparer.Ordinal)
                     .ThenBy(p => p.Key.Community, StringComparer.Ordinal))
        {
            yield return new HourlySeries(device, metric, label.Length == 0 ? null : label, owner.Length == 0 ? null : owner, seriesCommunity,
                grid.Length == 0 ? null : grid, new DateTimeOffset(hour, TimeSpan.Zero), count, sum, new DateTimeOffset(last, TimeSpan.Zero));
        }
    }
}
