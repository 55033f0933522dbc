using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

/// <summary>
/// The rollups' progress W: readings of the live feed reach the rollups when their minute has closed, late ones with
/// their own write, and every answer from the rollups equals the raw rows' answer whatever W is.
/// </summary>
public sealed class RollupProgressTests
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private static readonly HouseholdScope H1 = new("h1", ["m1"]);

    [Fact]
    public async Task Live_readings_are_folded_once_their_minute_has_closed_and_answers_equal_the_raw_rows_throughout()
    {
        var clock = new FakeTimeProvider(Day.AddHours(1));
        await using var db = await TempStore.CreateAsync(clock);
        // A new file starts at the last minute that closed at least the delay ago.
        Assert.Equal(Day.UtcDateTime.AddMinutes(59), db.Store.RolledUpBefore);

        var random = new Random(20261125);
        var written = new List<Reading>();
        for (var round = 0; round < 60; round++)
        {
            clock.Advance(TimeSpan.FromSeconds(random.Next(0, 300)));
            var batch = LiveBatch(random, clock.GetUtcNow(), written);
            await db.Store.WriteAsync(batch, CancellationToken.None).Within();
            written.AddRange(batch);
            if (round % 20 == 19) await AssertExactAsync(db);
        }

        // The newest minutes wait: raw rows exist from W on, and no rollup row holds any of them.
        await db.Store.SettleFoldAsync().Within();
        var w = db.Store.RolledUpBefore;
        Assert.Equal(FloorMinute(clock.GetUtcNow().UtcDateTime - DuckDbReadingStore.RollupDelay), w);
        Assert.True(await CountAsync(db, $"SELECT count(*) FROM readings WHERE ts >= {Literal(w)}") > 0);
        Assert.Equal(0, await CountAsync(db, $"""
            SELECT count(*) FROM (SELECT last_ts FROM readings_1m UNION ALL SELECT last_ts FROM readings_1h) WHERE last_ts >= {Literal(w)}
            """));

        // A restart keeps W and folds nothing twice.
        await db.ReopenAsync();
        Assert.Equal(w, db.Store.RolledUpBefore);
        await AssertExactAsync(db);

        // The household's rows go from raw rows and rollups alike; a shared device's rows from W on stay out of the
        // rollups until their minute closes, so they are counted once.
        Assert.True(await CountAsync(db, $"SELECT count(*) FROM readings WHERE device = 'm2' AND household = 'h1' AND ts >= {Literal(w.AddHours(-1))}") > 0);
        await db.Store.EraseHouseholdAsync(H1, CancellationToken.None).Within();
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM readings WHERE household = 'h1' OR device = 'm1'"));
        await AssertExactAsync(db);

        // Once the clock has moved on, the next write folds the waiting minutes.
        clock.Advance(TimeSpan.FromMinutes(10));
        await db.Store.WriteAsync([Sample.Point("m3", Metrics.WaterConsumption, clock.GetUtcNow(), 0.25, community: "c2")], CancellationToken.None).Within();
        await db.Store.SettleFoldAsync().Within();
        Assert.Equal(FloorMinute(clock.GetUtcNow().UtcDateTime - DuckDbReadingStore.RollupDelay), db.Store.RolledUpBefore);
        Assert.True(db.Store.RolledUpBefore > w);
        await AssertExactAsync(db);
    }

    [Fact]
    public async Task Writes_go_on_while_closed_minutes_are_folded_and_a_reading_in_the_range_being_folded_waits_for_the_fold()
    {
        var clock = new FakeTimeProvider(Day.AddHours(1));
        await using var db = await TempStore.CreateAsync(clock);
        var w = db.Store.RolledUpBefore;
        var minutes = Enumerable.Range(0, 150).Select(i => Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(59).AddSeconds(i), i)).ToArray();
        await db.Store.WriteAsync(minutes, CancellationToken.None).Within();

        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        db.Store.BeforeFoldInBackground = () => held.Task;
        clock.Advance(TimeSpan.FromMinutes(3));
        var target = FloorMinute(clock.GetUtcNow().UtcDateTime - DuckDbReadingStore.RollupDelay);
        Assert.True(target > w);

        // The first write starts the fold of [W, target) and does not wait for it, nor does the next one: their readings are new.
        await db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, clock.GetUtcNow(), 1000)], CancellationToken.None).Within();
        await db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, clock.GetUtcNow().AddSeconds(1), 2000)], CancellationToken.None).Within();
        Assert.Equal(w, db.Store.RolledUpBefore);
        var hourly = new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddHours(3), "m1", Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Sum);
        var expected = minutes.Sum(r => r.Value) + 3000;
        Assert.Equal(expected, (await db.Store.QueryAsync(hourly, CancellationToken.None).Within()).Sum(b => b.Value));

        // A reading inside the range being folded waits for the fold, then is folded by its own write, once.
        var late = db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Day.AddHours(1).AddSeconds(30.5), 0.5)], CancellationToken.None);
        await Task.Delay(300);
        Assert.False(late.IsCompleted);
        held.SetResult();
        await late.Within();
        Assert.Equal(target, db.Store.RolledUpBefore);
        Assert.Equal(0, await db.RollupMismatchesAsync("readings_1m", "minute", below: target));
        Assert.Equal(0, await db.RollupMismatchesAsync("readings_1h", "hour", below: target));
        Assert.Equal(expected + 0.5, (await db.Store.QueryAsync(hourly, CancellationToken.None).Within()).Sum(b => b.Value));
        Assert.Equal(expected + 0.5, (await db.Store.QueryAsync(hourly, useRollups: false, CancellationToken.None).Within()).Sum(b => b.Value));
    }

    [Fact]
    public async Task Retention_shorter_than_the_rollup_delay_folds_the_raw_rows_before_it_deletes_them()
    {
        var clock = new FakeTimeProvider(Day.AddMinutes(10));
        await using var db = await TempStore.CreateAsync(clock);
        var live = Enumerable.Range(0, 50).Select(i => Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(9).AddSeconds(i), 0.25 * i)).ToArray();
        await db.Store.WriteAsync(live, CancellationToken.None).Within();
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM readings_1h"));

        var pass = await db.Store.ApplyRetentionAsync(
            new DuckDbRetentionOptions { Raw = TimeSpan.FromSeconds(10), Minute = TimeSpan.FromDays(1), Hour = TimeSpan.FromDays(2) },
            clock.GetUtcNow(), CancellationToken.None).Within();

        Assert.Equal(39, pass!.RawDeleted);
        Assert.Equal(Day.UtcDateTime.AddMinutes(10), db.Store.RolledUpBefore);
        var hour = await db.Store.QueryAsync(
            new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddHours(1), "m1", Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Sum),
            CancellationToken.None).Within();
        Assert.Equal(live.Sum(r => r.Value), Assert.Single(hour).Value);
    }

    /// <summary>Readings around the clock: most a little behind it, some ahead, some hours late, some redelivered.</summary>
    private static List<Reading> LiveBatch(Random random, DateTimeOffset now, List<Reading> written)
    {
        string[] devices = ["m1", "m2", "m3"];
        var batch = new List<Reading>();
        for (var i = random.Next(1, 80); i > 0; i--)
        {
            if (written.Count > 0 && random.NextDouble() < 0.15)
            {
                var again = written[random.Next(written.Count)];
                batch.Add(random.NextDouble() < 0.5 ? again : again with { Value = again.Value + 1 });
                continue;
            }

            var roll = random.NextDouble();
            var time = roll switch
            {
                < 0.65 => now.AddMilliseconds(-random.Next(0, 120_000)),
                // On a whole minute, where W stops.
                < 0.75 => new DateTimeOffset(FloorMinute(now.UtcDateTime)).AddMinutes(-random.Next(0, 3)),
                < 0.8 => now.AddMilliseconds(random.Next(1, 120_000)),
                _ => now.AddMinutes(-random.Next(60, 300)),
            };
            var device = devices[random.Next(devices.Length)];
            // m1 is the household's own meter, m2 a gate it shares with h2.
            var household = device switch { "m1" => "h1", "m2" => random.NextDouble() < 0.4 ? "h1" : "h2", _ => null };
            batch.Add(Sample.Point(device, random.NextDouble() < 0.8 ? Metrics.WaterConsumption : Metrics.GatePass, time,
                random.Next(-400, 401) / 4.0, community: device == "m3" ? "c2" : "c1",
                label: random.NextDouble() < 0.3 ? "P1" : null, household: household));
        }

        return batch;
    }

    /// <summary>
    /// The rollups hold exactly the raw readings older than W, and bucketed queries from the rollups equal the same
    /// queries over the raw rows, over ranges that end before W, straddle it and reach past the newest reading.
    /// </summary>
    private static async Task AssertExactAsync(TempStore db)
    {
        await db.Store.SettleFoldAsync().Within();
        var w = db.Store.RolledUpBefore;
        Assert.Equal(0, await db.RollupMismatchesAsync("readings_1m", "minute", below: w));
        Assert.Equal(0, await db.RollupMismatchesAsync("readings_1h", "hour", below: w));

        var at = new DateTimeOffset(w);
        (DateTimeOffset From, DateTimeOffset To)[] ranges =
        [
            (Day, at.AddMinutes(-10)),
            (Day, at.AddHours(3)),
            (at.AddMinutes(-37).AddSeconds(-13), at.AddMinutes(5).AddSeconds(7)),
            (at.AddHours(-2), at.AddMinutes(2)),
            (at.AddMinutes(-3), at.AddHours(1)),
        ];
        var straddling = 0;
        foreach (var every in new[] { TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1) })
        {
            foreach (var (from, to) in ranges)
            {
                foreach (var aggregation in Enum.GetValues<Aggregation>())
                {
                    foreach (var (device, community) in new[] { ("m2", (string?)null), (null, "c1") })
                    {
                        var query = new ReadingQuery(Metrics.WaterConsumption, from, to, device, community, every, aggregation);
                        var fromRaw = await db.Store.QueryAsync(query, useRollups: false, CancellationToken.None).Within();
                        var served = await db.Store.QueryAsync(query, CancellationToken.None).Within();
                        Assert.True(fromRaw.SequenceEqual(served), $"{aggregation} every {every} over {from:o}–{to:o} for {device ?? community}, W {w:o}");
                        if (RollupSource.Choose(query, w) is { } rollup && rollup.From < w && w < rollup.To && fromRaw.Count > 0) straddling++;
                    }
                }
            }
        }

        // The split inside a rollup's range, where a bucket is part rollup and part raw, was really exercised.
        Assert.True(straddling > 0);

        // Every community's count in one query equals each community's count from the raw rows, over the same ranges
        // and one inside a single minute (no whole minute: raw rows only).
        var counted = 0L;
        foreach (var (from, to) in ranges.Append((at.AddSeconds(-20), at.AddSeconds(25))))
        {
            foreach (var metric in new[] { Metrics.WaterConsumption, Metrics.GatePass })
            {
                var counts = await db.Store.CountPerCommunityAsync(metric, from, to, CancellationToken.None).Within();
                Assert.Empty(counts.Keys.Except(["c1", "c2"]));
                foreach (var community in new[] { "c1", "c2" })
                {
                    var query = new ReadingQuery(metric, from, to, Community: community, Every: TimeSpan.FromDays(1), Aggregation: Aggregation.Count);
                    var fromRaw = (long)(await db.Store.QueryAsync(query, useRollups: false, CancellationToken.None).Within()).Sum(b => b.Value);
                    Assert.True(fromRaw == counts.GetValueOrDefault(community), $"{metric} in {community} over {from:o}–{to:o}, W {w:o}: {counts.GetValueOrDefault(community)}, raw rows {fromRaw}");
                    counted += fromRaw;
                }
            }
        }

        Assert.True(counted > 0);
    }

    private static async Task<long> CountAsync(TempStore db, string sql) => Convert.ToInt64((await db.SqlAsync(sql))[0][0], CultureInfo.InvariantCulture);

    private static string Literal(DateTime time) =>
        string.Create(CultureInfo.InvariantCulture, $"TIMESTAMP '{time:yyyy'-'MM'-'dd HH':'mm':'ss'.'ffffff}'");

    private static DateTime FloorMinute(DateTime time) => new(time.Ticks - time.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc);
}
