using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

/// <summary>
/// The write's check for readings already stored is skipped for a batch whose every reading is newer than anything stored
/// of its series (a live feed), and still made for everything else: redelivered, late and restarted-over readings, and
/// a series whose device stamped readings ahead of the clock. Either way nothing is stored twice.
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
}
