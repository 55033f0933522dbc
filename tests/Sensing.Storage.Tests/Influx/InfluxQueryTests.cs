using Sensing.Telemetry;

namespace Sensing.Storage.Tests.Influx;

/// <summary>The DuckDB store's query cases (QueryTests, LatestTests), answered by InfluxQL on a real influxd.</summary>
[Collection(InfluxCollection.Name)]
[Trait("Category", "Integration")]
public sealed class InfluxQueryTests(InfluxServer server) : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private InfluxTestStore _db = null!;

    public async Task InitializeAsync()
    {
        _db = await InfluxTestStore.CreateAsync(server.Url);

        // Hour 00: 1, 2, 6 (written out of order, so "last" cannot mean "last written");
        // hour 01: 10, 20; outside [00:10, 02:00): the 23:59 and 02:00 points.
        Reading[] m1 =
        [
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(50), 6),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(10), 1),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(20), 2),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddHours(1).AddMinutes(59).AddSeconds(59), 20),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddHours(1).AddMinutes(5), 10),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(-1), 1000),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddHours(2), 1000),
            // Another metric of the same device (same measurement) must never leak in.
            Sample.Point("m1", Metrics.WaterTotal, Day.AddMinutes(30), 5000),
        ];
        Reading[] others =
        [
            Sample.Point("m2", Metrics.WaterConsumption, Day.AddMinutes(30), 100),
            Sample.Point("m3", Metrics.WaterConsumption, Day.AddMinutes(30), 7000, community: "c2"),
        ];
        Reading[] gates =
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
        await _db.Store.WriteAsync(m1, CancellationToken.None).Within();
        await _db.Store.WriteAsync([.. others, .. gates], CancellationToken.None).Within();
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private Task<IReadOnlyList<Bucket>> QueryAsync(ReadingQuery query) => _db.Store.QueryAsync(query, CancellationToken.None).Within();

    private static ReadingQuery Hourly(Aggregation agg, string? device = "m1", string? community = null) =>
        new(Metrics.WaterConsumption, Day.AddMinutes(10), Day.AddHours(2), device, community, TimeSpan.FromHours(1), agg);

    [Theory]
    [InlineData(Aggregation.Mean, 3.0, 15.0)]   // (1+2+6)/3, (10+20)/2
    [InlineData(Aggregation.Sum, 9.0, 30.0)]
    [InlineData(Aggregation.Min, 1.0, 10.0)]
    [InlineData(Aggregation.Max, 6.0, 20.0)]
    [InlineData(Aggregation.Count, 3.0, 2.0)]
    [InlineData(Aggregation.Last, 6.0, 20.0)]   // newest point of each hour: 00:50 and 01:59:59
    public async Task Each_aggregation_folds_an_hour_as_computed_by_hand(Aggregation agg, double hour0, double hour1)
    {
        var buckets = await QueryAsync(Hourly(agg));

        // The query starts at 00:10 but buckets start on the hour: aligned to the epoch, not to From.
        Assert.Equal([new Bucket(Day, hour0), new Bucket(Day.AddHours(1), hour1)], buckets);
        Assert.All(buckets, b => Assert.Equal(TimeSpan.Zero, b.Time.Offset));
    }

    [Fact]
    public async Task Buckets_align_to_the_unix_epoch_for_intervals_that_do_not_divide_a_day()
    {
        // 2026-11-20T00:00Z mod 420 s = 300 s: 7-minute buckets start at 00:02, 00:09, 00:16, …, 00:44.
        var buckets = await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddHours(1), Device: "m1",
            Every: TimeSpan.FromMinutes(7), Aggregation: Aggregation.Sum));
        Assert.Equal(
            [new Bucket(Day.AddMinutes(9), 1), new Bucket(Day.AddMinutes(16), 2), new Bucket(Day.AddMinutes(44), 6)],
            buckets);

        // mod 660 s = 120 s: 11-minute buckets start at 00:09, 00:20, 00:31, 00:42.
        buckets = await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddHours(1), Device: "m1",
            Every: TimeSpan.FromMinutes(11), Aggregation: Aggregation.Max));
        Assert.Equal(
            [new Bucket(Day.AddMinutes(9), 1), new Bucket(Day.AddMinutes(20), 2), new Bucket(Day.AddMinutes(42), 6)],
            buckets);
    }

    [Fact]
    public async Task Hourly_buckets_hold_only_hours_with_data()
    {
        var buckets = await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day.AddDays(-1), Day.AddDays(1), Device: "m1",
            Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Count));
        Assert.Equal(
            [new Bucket(Day.AddHours(-1), 1), new Bucket(Day, 3), new Bucket(Day.AddHours(1), 2), new Bucket(Day.AddHours(2), 1)],
            buckets);
    }

    [Fact]
    public async Task A_community_scope_sums_its_devices_and_a_device_scope_only_that_device()
    {
        Assert.Equal([new Bucket(Day, 109), new Bucket(Day.AddHours(1), 30)], await QueryAsync(Hourly(Aggregation.Sum, device: null, community: "c1")));
        Assert.Equal([new Bucket(Day, 100)], await QueryAsync(Hourly(Aggregation.Sum, device: "m2")));
        Assert.Equal([new Bucket(Day, 7000)], await QueryAsync(Hourly(Aggregation.Sum, device: null, community: "c2")));
        Assert.Equal([new Bucket(Day, 9), new Bucket(Day.AddHours(1), 30)], await QueryAsync(Hourly(Aggregation.Sum, "m1", "c1")));
        Assert.Empty(await QueryAsync(Hourly(Aggregation.Sum, "m3", "c1")));
    }

    [Fact]
    public async Task Raw_points_come_in_time_order_within_from_inclusive_to_exclusive_and_respect_the_limit()
    {
        var all = await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day.AddMinutes(10), Day.AddHours(2), Device: "m1"));
        Assert.Equal(
            [
                new Bucket(Day.AddMinutes(10), 1), new Bucket(Day.AddMinutes(20), 2), new Bucket(Day.AddMinutes(50), 6),
                new Bucket(Day.AddHours(1).AddMinutes(5), 10), new Bucket(Day.AddHours(1).AddMinutes(59).AddSeconds(59), 20),
            ],
            all);

        var limited = await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day.AddMinutes(10), Day.AddHours(2), Device: "m1", Limit: 2));
        Assert.Equal([new Bucket(Day.AddMinutes(10), 1), new Bucket(Day.AddMinutes(20), 2)], limited);

        var community = await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddHours(1), Community: "c1"));
        Assert.Equal([1.0, 2, 100, 6], community.Select(b => b.Value));
    }

    [Fact]
    public async Task A_query_needs_a_scope_and_sane_arguments()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddDays(1))));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddDays(1), Device: "m1", Limit: 0)));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day, Day.AddDays(1), Device: "m1", Every: TimeSpan.Zero)));
        Assert.Empty(await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day.AddDays(1), Day, Device: "m1")));
        // The whole representable range is a valid question.
        Assert.Equal(7, (await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, Device: "m1"))).Count);
    }

    [Fact]
    public async Task Metric_and_scope_strings_are_values_not_influxql()
    {
        foreach (var hostile in new[] { "c1' OR '1'='1", "c1\\' OR 'x'='x", "m1\"; DROP DATABASE \"x", "c1\nSELECT" })
        {
            Assert.Empty(await QueryAsync(new ReadingQuery(hostile, Day.AddDays(-1), Day.AddDays(1), Community: hostile)));
            Assert.Empty(await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day.AddDays(-1), Day.AddDays(1), Device: hostile)));
            Assert.Empty(await _db.Store.LatestAsync(hostile, hostile, CancellationToken.None).Within());
            Assert.Empty(await _db.Store.LatestAsync(hostile, Metrics.GatePass, CancellationToken.None).Within());
        }

        Assert.Equal(8, (await QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Day.AddDays(-1), Day.AddDays(1), Community: "c1"))).Count); // m1 7, m2 1
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
}
