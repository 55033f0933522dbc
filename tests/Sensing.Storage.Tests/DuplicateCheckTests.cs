using Microsoft.Extensions.Time.Testing;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

/// <summary>
/// The write's check for readings already stored is skipped for a batch whose every reading is newer than anything stored
/// of its series (a live feed), and still made for everything else: redelivered, late and restarted-over readings, and
/// a series whose device stamped readings ahead of the clock. Either way nothing is stored twice. A live batch with no
/// repeat and no late reading goes straight into <c>readings</c>, without the scratch tables.
/// </summary>
public sealed class DuplicateCheckTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private static Reading Water(string meter, DateTimeOffset time, double value) => Sample.Point(meter, Metrics.WaterConsumption, time, value);

    [Fact]
    public async Task A_live_feed_skips_the_check_and_what_could_be_stored_already_is_checked_and_refused()
    {
        var store = _db.Store;
        Reading[] first = [Water("m1", Day, 1), Water("m2", Day, 2)];
        await store.WriteAsync(first, CancellationToken.None).Within();
        Assert.Equal((0L, 1L), store.DuplicateChecks); // an empty file holds nothing to check against

        // Redelivered: checked, nothing added.
        await store.WriteAsync(first, CancellationToken.None).Within();
        Assert.Equal((1L, 1L), store.DuplicateChecks);
        Assert.Equal(2, await _db.CountReadingsAsync());

        // Newer than everything stored: not checked; a repeat within the batch still collapses to its first.
        await store.WriteAsync([Water("m1", Day.AddMinutes(15), 3), Water("m1", Day.AddMinutes(15), 99), Water("m2", Day.AddMinutes(15), 4)], CancellationToken.None).Within();
        Assert.Equal((1L, 2L), store.DuplicateChecks);
        Assert.Equal(4, await _db.CountReadingsAsync());
        Assert.Equal(3.0, Convert.ToDouble((await _db.SqlAsync("SELECT value FROM readings WHERE device = 'm1' AND ts = TIMESTAMP '2026-11-20 00:15:00'"))[0][0]));

        // A late reading of m2 beside a new one of m1: the batch is checked, and the late one, new to the store, is kept.
        await store.WriteAsync([Water("m2", Day.AddMinutes(5), 5), Water("m1", Day.AddMinutes(30), 6)], CancellationToken.None).Within();
        Assert.Equal((2L, 2L), store.DuplicateChecks);
        Assert.Equal(6, await _db.CountReadingsAsync());

        // Less than a microsecond later is the same key to DuckDB: checked and refused, not taken for newer.
        await store.WriteAsync([Water("m1", Day.AddMinutes(30).AddTicks(3), 7)], CancellationToken.None).Within();
        Assert.Equal((3L, 2L), store.DuplicateChecks);
        Assert.Equal(6, await _db.CountReadingsAsync());
    }

    [Fact]
    public async Task After_a_restart_the_files_readings_are_checked_and_a_fast_clock_holds_back_only_its_own_series()
    {
        var now = DateTimeOffset.UtcNow;
        now = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        await _db.Store.WriteAsync([Water("m1", now.AddHours(-1), 1), Water("m2", now.AddMinutes(-30), 2), Water("fast", now.AddHours(3), 3)], CancellationToken.None).Within();
        await _db.ReopenAsync();
        var store = _db.Store;

        // Redelivered after the restart: as old as the file's newest, so checked, and refused.
        await store.WriteAsync([Water("m2", now.AddMinutes(-30), 2)], CancellationToken.None).Within();
        Assert.Equal((1L, 0L), store.DuplicateChecks);
        // Live readings of the other series: newer than the file's newest up to the clock, so not checked, though one
        // device's reading three hours ahead is in the file.
        await store.WriteAsync([Water("m1", now, 4), Water("m2", now, 5)], CancellationToken.None).Within();
        Assert.Equal((1L, 1L), store.DuplicateChecks);
        // The fast device's own series is held to its stored time: checked, a new reading kept, a redelivered one refused.
        await store.WriteAsync([Water("fast", now.AddHours(1), 6)], CancellationToken.None).Within();
        await store.WriteAsync([Water("fast", now.AddHours(3), 3)], CancellationToken.None).Within();
        Assert.Equal((3L, 1L), store.DuplicateChecks);
        Assert.Equal(6, await _db.CountReadingsAsync());
        Assert.Equal(1L, Convert.ToInt64((await _db.SqlAsync("SELECT count(*) FROM readings WHERE device = 'fast' AND value = 3"))[0][0]));
    }

    [Fact]
    public async Task A_live_batch_goes_straight_into_readings_whole_and_a_repeat_a_late_or_a_redelivered_reading_goes_through_the_scratch_tables()
    {
        var clock = new FakeTimeProvider(Day.AddHours(1));
        await using var db = await TempStore.CreateAsync(clock);
        var store = db.Store;
        var now = clock.GetUtcNow();

        // Live: every column lands where it belongs.
        await store.WriteAsync([
            Sample.Point("m1", Metrics.WaterConsumption, now, 1.5, community: "c7", grid: "g3", household: "h9"),
            Sample.Point("cam", "people", now.AddTicks(10), 4, label: "zone-a", grid: null, attributes: "{\"score\":0.9}"),
        ], CancellationToken.None).Within();
        Assert.Equal(1L, store.BatchesAppendedDirectly);
        Assert.Equal((0L, 1L), store.DuplicateChecks);
        var rows = await db.SqlAsync("SELECT device, metric, label, ts, value, community, grid, household, attributes FROM readings ORDER BY device");
        Assert.Equal(["cam", "people", "zone-a", now.UtcDateTime.AddTicks(10), 4.0, "c1", null, null, "{\"score\":0.9}"], rows[0]);
        Assert.Equal(["m1", Metrics.WaterConsumption, "", now.UtcDateTime, 1.5, "c7", "g3", "h9", null], rows[1]);

        // A key twice in one batch: the first kept, through the scratch tables, though nothing of it was stored.
        await store.WriteAsync([Water("m1", now.AddSeconds(1), 3), Water("m1", now.AddSeconds(1), 99)], CancellationToken.None).Within();
        Assert.Equal(1L, store.BatchesAppendedDirectly);
        Assert.Equal((0L, 2L), store.DuplicateChecks);
        Assert.Equal([3.0], (await db.SqlAsync("SELECT value FROM readings WHERE device = 'm1' AND value > 2")).Select(r => r[0]));

        // One series out of order within the batch, no repeat: both kept, through the scratch tables.
        await store.WriteAsync([Water("m1", now.AddSeconds(3), 5), Water("m1", now.AddSeconds(2), 4)], CancellationToken.None).Within();
        Assert.Equal(1L, store.BatchesAppendedDirectly);
        Assert.Equal(5, await db.CountReadingsAsync());

        // New to the store but older than the rollups' progress: folded by its own write, so not appended directly.
        await store.WriteAsync([Water("m2", Day.AddMinutes(10), 0.25)], CancellationToken.None).Within();
        Assert.Equal(1L, store.BatchesAppendedDirectly);
        Assert.Equal((0L, 4L), store.DuplicateChecks);
        Assert.Equal(0, await db.RollupMismatchesAsync("readings_1m", "minute", below: store.RolledUpBefore));
        Assert.Equal(1L, Convert.ToInt64((await db.SqlAsync("SELECT sum(n)::BIGINT FROM readings_1m WHERE device = 'm2'"))[0][0]));

        // Redelivered: checked, nothing added. Then live again: straight in.
        await store.WriteAsync([Water("m1", now.AddSeconds(3), 5)], CancellationToken.None).Within();
        Assert.Equal((1L, 4L), store.DuplicateChecks);
        await store.WriteAsync([Water("m1", now.AddSeconds(4), 6), Water("m2", now.AddSeconds(4), 7)], CancellationToken.None).Within();
        Assert.Equal(2L, store.BatchesAppendedDirectly);
        Assert.Equal(8, await db.CountReadingsAsync());

        // Appended rows are the readings' like any other: after a restart they are found, a redelivery is refused, and
        // once their minutes close the rollups hold each of them once.
        await db.ReopenAsync();
        await db.Store.WriteAsync([Water("m1", now.AddSeconds(4), 6)], CancellationToken.None).Within();
        Assert.Equal(8, await db.CountReadingsAsync());
        clock.Advance(TimeSpan.FromMinutes(5));
        await db.Store.WriteAsync([Water("m3", clock.GetUtcNow(), 1)], CancellationToken.None).Within();
        await db.Store.SettleFoldAsync().Within();
        Assert.True(db.Store.RolledUpBefore > now.UtcDateTime.AddSeconds(4));
        Assert.Equal(0, await db.RollupMismatchesAsync("readings_1m", "minute", below: db.Store.RolledUpBefore));
        Assert.Equal(0, await db.RollupMismatchesAsync("readings_1h", "hour", below: db.Store.RolledUpBefore));
    }
}
