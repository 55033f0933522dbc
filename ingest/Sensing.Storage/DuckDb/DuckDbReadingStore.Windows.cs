using System.Runtime.CompilerServices;
using System.Text;
using Sensing.Telemetry;

namespace Sensing.Storage;

public sealed partial class DuckDbReadingStore : IHourlyWindowStore
{
    /// <summary>
    /// Answered from the raw rows of the window, not from <c>readings_1h</c>: a rollup row folds a series' readings
    /// whatever household each carried, and a gate's passes carry a different household each (which household walked
    /// through is the point). A window is recent (the hour just ended, or the training's last weeks), inside raw
    /// retention, and a range on <c>ts</c> lets DuckDB skip the row groups outside it.
    /// </summary>
    public async IAsyncEnumerable<HourlySeries> HourlyAsync(
        IReadOnlyList<string> metrics, DateTimeOffset from, DateTimeOffset to, string? community,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!HourlyWindowArguments.HasWork(metrics, from, to))
        {
            yield break;
        }

        // Only fixed fragments are concatenated; every value travels as a parameter.
        var names = new StringBuilder();
        for (var i = 0; i < metrics.Count; i++)
        {
            names.Append(i == 0 ? "$m0" : $", $m{i}");
        }

        var scope = community is null ? "" : " AND community = $community";
        var sql = $"""
            SELECT device, metric, label, household, community, any_value(grid),
                   epoch_us(ts) - epoch_us(ts) % 3600000000 AS hour, count(*), sum(value), epoch_us(max(ts))
            FROM readings
            WHERE metric IN ({names}) AND ts >= $from AND ts < $to{scope}
            GROUP BY device, metric, label, household, community, hour
            ORDER BY hour, device, metric, label, household NULLS FIRST, community
            """;

        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        for (var i = 0; i < metrics.Count; i++)
        {
            AddParameter(command, $"m{i}", metrics[i]);
        }

        AddParameter(command, "from", from.UtcDateTime);
        AddParameter(command, "to", to.UtcDateTime);
        if (community is not null)
        {
            AddParameter(command, "community", community);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var label = reader.GetString(2);
            yield return new HourlySeries(
                Device: reader.GetString(0),
                Metric: reader.GetString(1),
                Label: label.Length == 0 ? null : label,
                Household: reader.IsDBNull(3) ? null : reader.GetString(3),
                Community: reader.GetString(4),
                Grid: reader.IsDBNull(5) ? null : reader.GetString(5),
                Hour: FromMicros(reader.GetInt64(6)),
                Count: reader.GetInt64(7),
                Sum: reader.GetDouble(8),
                LastTime: FromMicros(reader.GetInt64(9)));
        }
    }
}
