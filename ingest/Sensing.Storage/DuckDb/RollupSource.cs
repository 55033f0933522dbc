using Sensing.Telemetry;

namespace Sensing.Storage;

/// <summary>
/// Which rollup rows answer a bucketed query, and over which parts of its range.
/// <para>
/// A rollup of resolution r can serve query buckets of a whole multiple of r: both are aligned to the Unix epoch, so
/// every rollup bucket lies inside exactly one query bucket. The minute table covers the whole minutes inside the
/// query's range, [<see cref="From"/>, <see cref="To"/>) = [ceil(from, 1 min), floor(to, 1 min)); when the interval is
/// a whole number of hours, the hour table covers the whole hours inside that, [<see cref="HoursFrom"/>,
/// <see cref="HoursTo"/>), and the minute table only the minutes around them. The ragged edges (less than a minute at
/// each end) come from the raw rows. Worked example: hourly buckets from 00:10:30 to 05:20 read the raw rows for
/// [00:10:30, 00:11), <c>readings_1m</c> for [00:11, 01:00) and [05:00, 05:20), <c>readings_1h</c> for [01:00, 05:00).
/// All parts are turned into the same partial state (count, sum, min, max, last) and folded in one GROUP BY, so the
/// answer is the one the raw rows give (sums up to floating-point summation order). When the range holds no whole
/// minute, or the interval is not a whole number of minutes (90 s), the query stays on the raw rows.
/// </para>
/// <para>
/// The rollups hold only the raw rows older than their progress W (<see cref="DuckDbSchema.Rollups"/>), so the raw rows
/// are read from W on as well: the rollup rows of [From, To) plus the raw rows of [max(From, W), To) are exactly the
/// readings of [From, To), also in the minute and the hour W falls in, whose rollup rows hold only their part before
/// W. The tail from <see cref="RawFrom"/> covers that and the ragged edge after To in one range. So a wall screen's
/// "today so far" reads the hours, then the minutes of the current hour up to W, and only the last minute or so raw.
/// </para>
/// </summary>
internal sealed record RollupSource(DateTime From, DateTime To, DateTime? HoursFrom, DateTime? HoursTo, DateTime RawFrom, bool HeadEdge, bool TailEdge)
{
    /// <param name="rolledUpBefore">The rollups' progress W in the snapshot the query reads; null: they hold everything.</param>
    public static RollupSource? Choose(ReadingQuery query, DateTime? rolledUpBefore)
    {
        if (query.Every is not { } every || every.Ticks % TimeSpan.TicksPerMinute != 0)
        {
            return null;
        }

        // DateTime ticks count from 0001-01-01, which lies on a whole hour before the epoch, so aligning ticks aligns
        // to the epoch too. Ticks are non-negative here, so plain division floors.
        var from = query.From.UtcTicks;
        var to = query.To.UtcTicks;
        var minutesFrom = Ceiling(from, TimeSpan.TicksPerMinute);
        var minutesTo = Floor(to, TimeSpan.TicksPerMinute);
        if (minutesFrom >= minutesTo)
        {
            return null;
        }

        DateTime? hoursFrom = null, hoursTo = null;
        if (every.Ticks % TimeSpan.TicksPerHour == 0 && Ceiling(from, TimeSpan.TicksPerHour) is var h0 && Floor(to, TimeSpan.TicksPerHour) is var h1 && h0 < h1)
        {
            hoursFrom = Utc(h0);
            hoursTo = Utc(h1);
        }

        var rawFrom = Math.Min(minutesTo, Math.Max(minutesFrom, rolledUpBefore?.Ticks ?? long.MaxValue));
        // DuckDB keeps microseconds: an edge shorter than one holds no stored time.
        return new RollupSource(Utc(minutesFrom), Utc(minutesTo), hoursFrom, hoursTo, Utc(rawFrom),
            HeadEdge: minutesFrom - from >= TimeSpan.TicksPerMicrosecond, TailEdge: to - rawFrom >= TimeSpan.TicksPerMicrosecond);

        static long Ceiling(long ticks, long unit) => (ticks + unit - 1) / unit * unit;
        static long Floor(long ticks, long unit) => ticks / unit * unit;
        static DateTime Utc(long ticks) => new(ticks, DateTimeKind.Utc);
    }

    /// <summary>
    /// The query over these rollup rows plus the raw edges. Parameters: <c>$metric</c>, <c>$from</c>, <c>$to</c>,
    /// <c>$every</c> (µs), <c>$rollup_from</c>, <c>$rollup_to</c>, <c>$hours_from</c> and <c>$hours_to</c> (when
    /// <see cref="HoursFrom"/> is set), <c>$raw_from</c>, <c>$limit</c> and those of <paramref name="scope"/>.
    /// </summary>
    /// <param name="scope">Fixed fragments (<c> AND device = $device</c> …) that every table understands.</param>
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

        return $"""
            SELECT qb, {fold}
            FROM (
            {Parts((table, from, to) => RollupPart(table, from, to, scope), (from, to) => RawEdge(from, to, scope))}
            )
            GROUP BY qb
            ORDER BY qb
            LIMIT $limit
            """;
    }

    /// <summary>
    /// How many readings of <c>$metric</c> each community has in the range: the same parts as <see cref="Sql"/>, every
    /// community at once. Parameters: those of <see cref="Sql"/> but <c>$every</c>, <c>$limit</c> and the scope's.
    /// </summary>
    public string CountPerCommunitySql() => $"""
        SELECT community, CAST(sum(n) AS BIGINT)
        FROM (
        {Parts(
            static (table, from, to) => $"SELECT community, n FROM {table} WHERE metric = $metric AND bucket >= {from} AND bucket < {to}",
            static (from, to) => $"SELECT community, 1 AS n FROM readings WHERE metric = $metric AND ts >= {from} AND ts < {to}")}
        )
        GROUP BY community
        """;

    /// <summary>The parts' SELECTs joined by UNION ALL: rollup rows (table, from, to) and raw edges (from, to), as parameter names.</summary>
    private string Parts(Func<string, string, string, string> rollupPart, Func<string, string, string> rawPart)
    {
        // Tables and scope are fixed fragments; every value is a parameter. Each part is its own branch with a plain
        // range, and only when it is not empty: a range on the time alone lets DuckDB skip row groups by their zone
        // maps, where an OR of two ranges would scan the whole column, and an aligned query reads no raw row at all.
        var parts = new List<string>();
        if (HoursFrom is { } hoursFrom && HoursTo is { } hoursTo)
        {
            parts.Add(rollupPart("readings_1h", "$hours_from", "$hours_to"));
            if (From < hoursFrom) parts.Add(rollupPart("readings_1m", "$rollup_from", "$hours_from"));
            if (hoursTo < To) parts.Add(rollupPart("readings_1m", "$hours_to", "$rollup_to"));
        }
        else
        {
            parts.Add(rollupPart("readings_1m", "$rollup_from", "$rollup_to"));
        }

        if (HeadEdge)
        {
            parts.Add(rawPart("$from", "$rollup_from"));
        }

        if (TailEdge)
        {
            parts.Add(rawPart("$raw_from", "$to"));
        }

        return string.Join("\n    UNION ALL\n", parts);
    }

    private static string RollupPart(string table, string from, string to, string scope) => $"""
                SELECT epoch_us(bucket) - (((epoch_us(bucket) % $every) + $every) % $every) AS qb,
                       n, sum_value, min_value, max_value, last_value, last_ts, device, label
                FROM {table}
                WHERE metric = $metric AND bucket >= {from} AND bucket < {to}{scope}
        """;

    private static string RawEdge(string from, string to, string scope) => $"""
                SELECT epoch_us(ts) - (((epoch_us(ts) % $every) + $every) % $every) AS qb,
                       1, value, value, value, value, ts, device, label
                FROM readings
                WHERE metric = $metric AND ts >= {from} AND ts < {to}{scope}
        """;
}
