using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

public sealed class LatestTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private TempStore _db = null!;

    public async Task InitializeAsync()
    {
        _db = await TempStore.CreateAsync();
        Reading[] batch =
        [
            // Gate g1 in c1: "in" newest at 08:00, "out" newest at 09:00.
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(7), 1, label: "in"),
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(8), 2, label: "in"),
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(9), 3, label: "out"),
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(6), 4, label: "out"),
            // Gate g2 in c1 without a label.
            Sample.Point("g2", Metrics.GatePass, Day.AddHours(5), 5),
            Sample.Point("g2", Metrics.GatePass, Day.AddHours(4), 6),
            // Gate g3 in c2, and a different metric of g1 that must not count.
            Sample.Point("g3", Metrics.GatePass, Day.AddHours(10), 7, community: "c2", label: "in"),
            Sample.Point("g1", Metrics.GateDenied, Day.AddHours(12), 8, label: "in"),
        ];
        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task Counts_per_community_take_every_community_at_once_and_only_the_metric_and_range_asked()
    {
        // c1: g1 at 06, 07, 08, 09 and g2 at 04, 05; c2: g3 at 10; g1's denial at 12 is another metric.
        var day = await _db.Store.CountPerCommunityAsync(Metrics.GatePass, Day, Day.AddDays(1), CancellationToken.None).Within();
        Assert.Equal(new Dictionary<string, long> { ["c1"] = 6, ["c2"] = 1 }, day);
        // [04:00, 08:00): the 08:00 pass is outside; c2 has none and is absent. Then ranges with ragged edges.
        var morning = await _db.Store.CountPerCommunityAsync(Metrics.GatePass, Day.AddHours(4), Day.AddHours(8), CancellationToken.None).Within();
        Assert.Equal(new Dictionary<string, long> { ["c1"] = 4 }, morning);
        var ragged = await _db.Store.CountPerCommunityAsync(Metrics.GatePass, Day.AddHours(5).AddSeconds(-1), Day.AddHours(10).AddSeconds(1), CancellationToken.None).Within();
        Assert.Equal(new Dictionary<string, long> { ["c1"] = 5, ["c2"] = 1 }, ragged);
        var instant = await _db.Store.CountPerCommunityAsync(Metrics.GatePass, Day.AddHours(7).AddSeconds(-1), Day.AddHours(7).AddSeconds(1), CancellationToken.None).Within();
        Assert.Equal(new Dictionary<string, long> { ["c1"] = 1 }, instant);
        Assert.Empty(await _db.Store.CountPerCommunityAsync(Metrics.GatePass, Day.AddHours(8), Day.AddHours(8), CancellationToken.None).Within());
    }

    [Fact]
    public async Task Latest_gives_the_newest_reading_of_each_series_in_the_community()
    {
        var latest = await _db.Store.LatestAsync("c1", Metrics.GatePass, CancellationToken.None).Within();

        Assert.Equal(
            [
                new LatestReading("g1", Metrics.GatePass, "in", Day.AddHours(8), 2),
                new LatestReading("g1", Metrics.GatePass, "out", Day.AddHours(9), 3),
                new LatestReading("g2", Metrics.GatePass, null, Day.AddHours(5), 5),
            ],
            latest);
        Assert.Empty(await _db.Store.LatestAsync("c9", Metrics.GatePass, CancellationToken.None).Within());
    }

    [Fact]
    public async Task Latest_per_device_spans_communities_and_labels()
    {
        var latest = await _db.Store.LatestPerDeviceAsync(Metrics.GatePass, CancellationToken.None).Within();

        Assert.Equal(
            [
                new LatestReading("g1", Metrics.GatePass, "out", Day.AddHours(9), 3),
                new LatestReading("g2", Metrics.GatePass, null, Day.AddHours(5), 5),
                new LatestReading("g3", Metrics.GatePass, "in", Day.AddHours(10), 7),
            ],
            latest);
    }
    [Fact]
    public async Task Latest_kept_from_the_writes_answers_as_a_fresh_scan_of_the_file_does()
    {
        // The first ask scans the file; from then on the writes keep the answer.
        Assert.Equal(3, (await _db.Store.LatestAsync("c1", Metrics.GatePass, CancellationToken.None).Within()).Count);
        Reading[] later =
        [
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(11), 10, label: "in"),     // newer: replaces 08:00
            Sample.Point("g2", Metrics.GatePass, Day.AddHours(3), 11),                    // older: changes nothing
            Sample.Point("g1", Metrics.GatePass, Day.AddHours(9), 99, label: "out"),     // redelivered key: the stored 3 stays
            Sample.Point("g4", Metrics.GatePass, Day.AddHours(13), 12, label: "in"),     // a new device, twice at one time:
            Sample.Point("g4", Metrics.GatePass, Day.AddHours(13), 13, label: "in"),     // the first of the batch wins
            Sample.Point("g5", Metrics.GatePass, Day.AddHours(14), 14, community: "c2"), // another community
            Sample.Point("g2", Metrics.GateDenied, Day.AddHours(15), 15),                // another metric
        ];
        await _db.Store.WriteAsync(later, CancellationToken.None).Within();
        await _db.Store.WriteAsync([Sample.Point("g2", Metrics.GatePass, Day.AddHours(16), 16)], CancellationToken.None).Within();

        LatestReading[] expected =
        [
            new("g1", Metrics.GatePass, "in", Day.AddHours(11), 10),
            new("g1", Metrics.GatePass, "out", Day.AddHours(9), 3),
            new("g2", Metrics.GatePass, null, Day.AddHours(16), 16),
            new("g4", Metrics.GatePass, "in", Day.AddHours(13), 12),
        ];
        Assert.Equal(expected, await _db.Store.LatestAsync("c1", Metrics.GatePass, CancellationToken.None).Within());

        // A restart forgets what was kept: the scan of the file must say the same.
        await _db.ReopenAsync();
        Assert.Equal(expected, await _db.Store.LatestAsync("c1", Metrics.GatePass, CancellationToken.None).Within());
    }

    [Fact]
    public async Task Latest_after_retention_deletes_a_series_newest_rows_is_the_file_s_again()
    {
        Assert.Contains(await _db.Store.LatestAsync("c1", Metrics.GatePass, CancellationToken.None).Within(), r => r.Device == "g2");

        // Newest reading at 12:00 (g1's denial); keeping 6.5 hours of raw rows cuts at 05:30, taking all of g2's.
        var policy = new DuckDbRetentionOptions { Raw = TimeSpan.FromHours(6.5), Minute = TimeSpan.FromDays(1), Hour = TimeSpan.FromDays(2) };
        var pass = await _db.Store.ApplyRetentionAsync(policy, wallClock: Day.AddYears(1), CancellationToken.None).Within();
        Assert.NotNull(pass);
        Assert.True(pass.RawDeleted >= 2);

        Assert.Equal(
            [
                new LatestReading("g1", Metrics.GatePass, "in", Day.AddHours(8), 2),
                new LatestReading("g1", Metrics.GatePass, "out", Day.AddHours(9), 3),
            ],
            await _db.Store.LatestAsync("c1", Metrics.GatePass, CancellationToken.None).Within());
    }
    [Fact]
    public async Task Latest_after_a_household_is_erased_no_longer_shows_its_meter()
    {
        await _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Day.AddHours(9), 120, household: "h1"),
            Sample.Point("m2", Metrics.WaterTotal, Day.AddHours(9), 80, household: "h2")], CancellationToken.None).Within();
        Assert.Equal(["m1", "m2"], (await _db.Store.LatestAsync("c1", Metrics.WaterTotal, CancellationToken.None).Within()).Select(r => r.Device));

        await _db.Store.EraseHouseholdAsync(new HouseholdScope("h1", ["m1"]), CancellationToken.None).Within();

        Assert.Equal(["m2"], (await _db.Store.LatestAsync("c1", Metrics.WaterTotal, CancellationToken.None).Within()).Select(r => r.Device));
    }
}
