using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

public sealed class RollupTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private static readonly Aggregation[] AllAggregations = Enum.GetValues<Aggregation>();
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private Task<long> RollupMismatchesAsync(string table, string unit) => _db.RollupMismatchesAsync(table, unit);

    private static List<Reading> RandomBatch(Random random, List<Reading> written, int size)
    {
        string[] devices = ["m1", "m2", "m3"];
        var batch = new List<Reading>(size);
        for (var i = 0; i < size; i++)
        {
            if (written.Count > 0 && random.NextDouble() < 0.2)
            {
                // A redelivery: the same key again, sometimes with another value (the first write must win).
                var again = written[random.Next(written.Count)];
                batch.Add(random.NextDouble() < 0.5 ? again : again with { Value = again.Value + 1 });
                continue;
            }

            var device = devices[random.Next(devices.Length)];
            var reading = Sample.Point(
                device,
                random.NextDouble() < 0.8 ? Metrics.WaterConsumption : Metrics.GatePass,
                // Six hours at one-second resolution: several readings per minute, out of order across batches.
                Day.AddSeconds(random.Next(6 * 3600)),
                random.Next(-400, 401) / 4.0,
                community: device == "m3" ? "c2" : "c1",
                label: random.NextDouble() < 0.3 ? "P1" : null);
            batch.Add(reading);
        }

        // Within a batch too, a duplicate key may come twice.
        if (batch.Count > 1)
        {
            batch.Add(batch[random.Next(batch.Count)]);
        }

        return batch;
    }

    [Fact]
    public async Task Rollups_equal_raw_aggregates_and_rollup_queries_equal_raw_queries_over_random_data()
    {
        var random = new Random(20261124);
        var written = new List<Reading>();
        for (var round = 0; round < 40; round++)
        {
            var batch = RandomBatch(random, written, random.Next(1, 120));
            await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
            written.AddRange(batch);
        }

        Assert.Equal(0, await RollupMismatchesAsync("readings_1m", "minute"));
        Assert.Equal(0, await RollupMismatchesAsync("readings_1h", "hour"));
        await AssertQueriesFromRollupsEqualRawAsync();

        // Compaction folds the appended states to one row per series-bucket and changes no figure.
        Assert.True(await _db.Store.CompactRollupsAsync(Day.AddDays(-1), CancellationToken.None).Within() > 0);
        var duplicates = await _db.SqlAsync("""
            SELECT (SELECT count(*) FROM (SELECT 1 FROM readings_1m GROUP BY device, metric, label, community, bucket HAVING count(*) > 1))
                 + (SELECT count(*) FROM (SELECT 1 FROM readings_1h GROUP BY device, metric, label, community, bucket HAVING count(*) > 1))
            """);
        Assert.Equal(0L, Convert.ToInt64(duplicates[0][0]));
        Assert.Equal(0, await RollupMismatchesAsync("readings_1m", "minute"));
        Assert.Equal(0, await RollupMismatchesAsync("readings_1h", "hour"));
        await AssertQueriesFromRollupsEqualRawAsync();
    }

    private async Task AssertQueriesFromRollupsEqualRawAsync()
    {
        TimeSpan[] intervals = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromHours(1), TimeSpan.FromHours(2)];
        (DateTimeOffset From, DateTimeOffset To)[] ranges =
        [
            (Day, Day.AddHours(6)),                                              // aligned: all from the rollups
            (Day.AddMinutes(7).AddSeconds(13), Day.AddHours(5).AddMinutes(3)),   // ragged edges from raw
            (Day.AddMinutes(20), Day.AddMinutes(50)),                            // shorter than an hour
            (Day.AddSeconds(59), Day.AddHours(6)),                               // a head edge only
            (Day, Day.AddHours(5).AddMinutes(59).AddSeconds(30)),                // a tail edge only
        ];
        var compared = 0;
        foreach (var every in intervals)
        {
            foreach (var (from, to) in ranges)
            {
                foreach (var agg in AllAggregations)
                {
                    foreach (var (device, community) in new[] { ("m1", (string?)null), (null, "c1"), ("m3", "c2") })
                    {
                        var query = new ReadingQuery(Metrics.WaterConsumption, from, to, device, community, every, agg);
                        var fromRaw = await _db.Store.QueryAsync(query, useRollups: false, CancellationToken.None).Within();
                        var served = await _db.Store.QueryAsync(query, CancellationToken.None).Within();
                        Assert.NotEmpty(fromRaw);
                        Assert.True(fromRaw.SequenceEqual(served), $"{agg} every {every} over {from:o}–{to:o} for {device ?? community}");
                        compared++;
                    }
                }
            }
        }

        Assert.Equal(intervals.Length * ranges.Length * AllAggregations.Length * 3, compared);
    }

    [Fact]
    public async Task A_redelivered_batch_changes_neither_raw_rows_nor_rollups()
    {
        Reading[] batch =
        [
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddSeconds(10), 1),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddSeconds(70), 2),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(61), 4),
        ];
        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
        var before = await _db.SqlAsync("SELECT * FROM readings_1m UNION ALL SELECT * FROM readings_1h ORDER BY ALL");

        // The same batch again, then its keys with other values and in another order: all ignored.
        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
        await _db.Store.WriteAsync(batch.Reverse().Select(r => r with { Value = 100 }).ToArray(), CancellationToken.None).Within();

        Assert.Equal(3, await _db.CountReadingsAsync());
        Assert.Equal(before, await _db.SqlAsync("SELECT * FROM readings_1m UNION ALL SELECT * FROM readings_1h ORDER BY ALL"));
        var hour = await _db.SqlAsync("SELECT n, sum_value, last_value FROM readings_1h WHERE bucket = TIMESTAMP '2026-11-20 00:00:00'");
        Assert.Equal([2L, 3.0, 2.0], hour.Single());

        // A new reading in an existing bucket adds a state that merges with the stored one: older than the bucket's
        // last, so the last value stays, while count, sum and min change.
        await _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Day.AddSeconds(5), -3)], CancellationToken.None).Within();
        const string folded = """
            SELECT sum(n)::BIGINT, sum(sum_value), min(min_value), max(max_value), arg_max(last_value, last_ts)
            FROM readings_1h WHERE bucket = TIMESTAMP '2026-11-20 00:00:00'
            """;
        Assert.Equal([3L, 0.0, -3.0, 2.0, 2.0], (await _db.SqlAsync(folded)).Single());
        await _db.Store.CompactRollupsAsync(Day, CancellationToken.None).Within();
        Assert.Equal([3L, 0.0, -3.0, 2.0, 2.0], (await _db.SqlAsync(
            "SELECT n, sum_value, min_value, max_value, last_value FROM readings_1h WHERE bucket = TIMESTAMP '2026-11-20 00:00:00'")).Single());
    }

    [Theory]
    [InlineData(60, 0, 360, 0, 360, true)]      // hourly over whole hours: hours only
    [InlineData(120, 0, 360, 0, 360, true)]     // a multiple of an hour
    [InlineData(60, 10, 350, 60, 300, true)]    // hours in the middle, the minutes around them from readings_1m
    [InlineData(15, 0, 360, 0, 0, false)]       // minutes
    [InlineData(60, 10, 50, 0, 0, false)]       // hourly, but no whole hour in range: whole minutes still help
    [InlineData(90, 0, 360, 0, 0, false)]       // 90 min is no multiple of an hour
    public void Whole_hours_come_from_the_hour_rollup_and_the_whole_minutes_around_them_from_the_minute_rollup(
        int everyMinutes, int fromMinute, int toMinute, int hoursFrom, int hoursTo, bool hours)
    {
        var query = new ReadingQuery(Metrics.WaterConsumption, Day.AddMinutes(fromMinute), Day.AddMinutes(toMinute), "m1",
            Every: TimeSpan.FromMinutes(everyMinutes));
        var source = RollupSource.Choose(query, null);
        Assert.NotNull(source);
        Assert.Equal((Day.UtcDateTime.AddMinutes(fromMinute), Day.UtcDateTime.AddMinutes(toMinute)), (source.From, source.To));
        Assert.Equal(hours ? (Day.UtcDateTime.AddMinutes(hoursFrom), Day.UtcDateTime.AddMinutes(hoursTo)) : (null, null), (source.HoursFrom, source.HoursTo));
    }

    [Fact]
    public void Intervals_off_the_minute_and_ranges_without_a_whole_minute_stay_on_raw_rows()
    {
        Assert.Null(RollupSource.Choose(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddHours(1), "m1", Every: TimeSpan.FromSeconds(90)), null));
        Assert.Null(RollupSource.Choose(new ReadingQuery(Metrics.WaterConsumption, Day.AddSeconds(5), Day.AddSeconds(55), "m1", Every: TimeSpan.FromMinutes(1)), null));
        Assert.Null(RollupSource.Choose(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddHours(1), "m1"), null));
    }

    [Fact]
    public async Task A_file_written_before_rollups_existed_gets_them_at_open()
    {
        await _db.Store.WriteAsync(
            [Sample.Point("m1", Metrics.WaterConsumption, Day, 1), Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(90), 2)],
            CancellationToken.None).Within();
        await _db.SqlAsync("DELETE FROM readings_1m");
        await _db.SqlAsync("DELETE FROM readings_1h");
        // Such a file has no rollup progress either (the table is created empty when this version opens it).
        await _db.SqlAsync("DELETE FROM rollup_progress");

        await _db.ReopenAsync();

        Assert.Equal(0, await RollupMismatchesAsync("readings_1m", "minute"));
        Assert.Equal(0, await RollupMismatchesAsync("readings_1h", "hour"));
        Assert.Equal(2L, (await _db.SqlAsync("SELECT count(*) FROM readings_1h"))[0][0]);
    }
}
