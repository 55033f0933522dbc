using Sensing.Telemetry;

namespace Sensing.Storage;

/// <summary>
/// Which rollup table answers a bucketed query, and over which part of its range.
/// <para>
/// A rollup of resolution r can serve query buckets of a whole multiple of r: both are aligned to the Unix epoch, so
/// every rollup bucket lies inside exactly one query bucket. It covers the whole rollup buckets inside
/// [From, To), i.e. [ceil(From, r), floor(To, r)); the ragged edges (less than r at each end) come from the raw rows.
/// Worked example: hourly buckets from 00:10 to 05:00 read <c>readings_1h</c> for [01:00, 05:00) and the raw rows
/// for [00:10, 01:00). Both parts are turned into the same partial state (count, sum, min, max, last) and folded in
/// one GROUP BY, so the answer is the one the raw rows give (sums up to floating-point summation order).
/// </para>
/// <para>
/// The hour table is tried first, then the minute table; when neither holds a whole bucket of the range (a range
/// shorter than r, or an interval like 90 s), the query stays on the raw rows.
/// </para>
/// <para>
/// The rollups hold only the raw rows older than their progress W (<see cref="DuckDbSchema.Rollups"/>), so the raw rows
/// are read from W on as well: the rollup rows of [From, To) plus the raw rows of [max(From, W), To) are exactly the
/// readings of [From, To), also in the bucket W falls in, whose rollup rows hold only its part before W. The tail
/// from <see cref="RawFrom"/> covers that and the ragged edge after To in one range.
/// </para>
/// </summary>
internal sealed record RollupSource(string Table, DateTime From, DateTime To, DateTime RawFrom, bool HeadEdge, bool TailEdge)
{
    private static readonly (string Table, long Ticks)[] s_resolutions =
    [
        ("readings_1h", TimeSpan.TicksPerHour),
        ("readings_1m", TimeSpan.TicksPerMinute),
    ];

    /// <param name="rolledUpBefore">The rollups' progress W in the snapshot the query reads; null: they hold everything.</param>
    public static RollupSource? Choose(ReadingQuery query, DateTime? rolledUpBefore)
    {
        if (query.Every is not { } every)
        {
            return null;
        }

        var from = query.From.UtcTicks;
        var to = query.To.UtcTicks;
        foreach (var (table, ticks) in s_resolutions)
        {
            if (every.Ticks % ticks != 0)
            {
                continue;
            }

            // DateTime ticks count from 0001-01-01, which lies on a whole hour before the epoch, so aligning ticks
            // aligns to the epoch too. Ticks are non-negative here, so plain division floors.
            var alignedFrom = (from + ticks - 1) / ticks * ticks;
            var alignedTo = to / ticks * ticks;
            if (alignedFrom < alignedTo)
            {
                var rawFrom = Math.Min(alignedTo, Math.Max(alignedFrom, rolledUpBefore?.Ticks ?? long.MaxValue));
                // DuckDB keeps microseconds: an edge shorter than one holds no stored time.
                return new RollupSource(table, new DateTime(alignedFrom, DateTimeKind.Utc), new DateTime(alignedTo, DateTimeKind.Utc),
                    new DateTime(rawFrom, DateTimeKind.Utc),
                    HeadEdge: alignedFrom - from >= TimeSpan.TicksPerMicrosecond, TailEdge: to - rawFrom >= TimeSpan.TicksPerMicrosecond);
            }
        }

        return null;
    }

    /// <summary>
    /// The query over this rollup plus the raw edges. Parameters: <c>$metric</c>, <c>$from</c>, <c>$to</c>,
    /// <c>$every</c> (µs), <c>$rollup_from</c>, <c>$rollup_to</c>, <c>$raw_from</c>, <c>$limit</c> and those of <paramref name="scope"/>.
    /// </summary>
    /// <param name="scope">Fixed fragments (<c> AND device = $device</c> …) that both tables understand.</param>
    public string Sql(Aggregation aggregation, string scope)
    {
        // Finishing the merged partial states. "last" orders by (time, device, label) exactly as the raw query does:
        // the newest of the per-row newest values is the newest value overall, and times never tie within a series.
        var fold = aggregation switch
        {
            Aggregation.Mean => "sum(sum_value) / CAST(sum(n) AS DOUBLE)",
            Aggregation.Sum => "sum(sum_value)",
            Aggregation.Min => "min(min_value)",
            Aggregation.Max => "max(max_value)",
            Aggregation.Count => "CAST(sum(n) AS DOUBLE)",
            Aggregation.Last => "last(last_value ORDER BY last_ts, device, label)",
            _ => throw new ArgumentOutOfRangeException(nameof(aggregation), aggregation, "Unknown aggregation."),
        };

        // Table and scope are fixed fragments; every value is a parameter. Each raw edge is its own branch with a
        // plain range, and only when it is not empty: a range on ts alone lets DuckDB skip row groups by their zone
        // maps, where an OR of two ranges would scan the whole ts column, and an aligned query reads no raw row at all.
        var edges = new System.Text.StringBuilder();
        if (HeadEdge)
        {
            edges.Append(RawEdge("$from", "$rollup_from", scope));
        }

        if (TailEdge)
        {
            edges.Append(RawEdge("$raw_from", "$to", scope));
        }

        return $"""
            SELECT qb, {fold}
            FROM (
                SELECT epoch_us(bucket) - (((epoch_us(bucket) % $every) + $every) % $every) AS qb,
                       n, sum_value, min_value, max_value, last_value, last_ts, device, label
                FROM {Table}
                WHERE metric = $metric AND bucket >= $rollup_from AND bucket < $rollup_to{scope}{edges}
            )
            GROUP BY qb
            ORDER BY qb
            LIMIT $limit
            """;
    }

    private static string RawEdge(string from, string to, string scope) => $"""

                UNION ALL
                SELECT epoch_us(ts) - (((epoch_us(ts) % $every) + $every) % $every) AS qb,
                       1, value, value, value, value, ts, device, label
                FROM readings
                WHERE metric = $metric AND ts >= {from} AND ts < {to}{scope}
        """;
}
