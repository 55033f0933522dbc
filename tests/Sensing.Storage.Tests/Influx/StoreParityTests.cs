using Sensing.Telemetry;

namespace Sensing.Storage.Tests.Influx;

/// <summary>
/// The same readings through both stores, the same questions to both: DuckDB (the default) and InfluxDB must give
/// the same answers, so switching <c>Store:Kind</c> changes where data lives, not what the cockpit and analytics see.
/// </summary>
[Collection(InfluxCollection.Name)]
[Trait("Category", "Integration")]
public sealed class StoreParityTests(InfluxServer server) : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private InfluxTestStore _influx = null!;
    private TempStore _duck = null!;

    public async Task InitializeAsync()
    {
        _influx = await InfluxTestStore.CreateAsync(server.Url);
        _duck = await TempStore.CreateAsync();

        // Two days of every reading kind in two communities, with irregular times and values, and no repeated key
        // (a repeated key is where the stores differ on purpose: DuckDB keeps the first write, InfluxDB the last).
        var random = new Random(7);
        var readings = new List<Reading>();
        for (var minute = 0; minute < 2 * 24 * 60; minute += 7 + random.Next(20))
        {
            var t = Day.AddMinutes(minute).AddSeconds(random.Next(60));
            var h = random.Next(4);
            var community = h < 3 ? "c1" : "c2";
            readings.Add(new Reading($"wm-{h}", community, $"g{h}", $"h-{h}", Metrics.WaterConsumption, t, Math.Round(random.NextDouble(), 3)));
            readings.Add(new Reading($"em-{h}", community, $"g{h}", $"h-{h}", Metrics.ElectricityTotal, t, 1000 + minute / 10.0));
            readings.Add(new Reading($"gate-{h % 2}", community, "g1", random.Next(2) == 0 ? "h-7" : null, Metrics.GatePass, t.AddMilliseconds(h),
                1, random.Next(2) == 0 ? "in" : "out", """{"credential":"face"}"""));
            readings.Add(new Reading("park-1", "c1", "g2", null, Metrics.ParkingFree, t, random.Next(200), "P1"));
            readings.Add(new Reading("cam-1", "c1", null, null, "camera.crowd", t, random.Next(50), "east gate", """{"score":0.9}"""));
        }

        foreach (var chunk in readings.Chunk(500))
        {
            await _duck.Store.WriteAsync(chunk, CancellationToken.None).Within();
            await _influx.Store.WriteAsync(chunk, CancellationToken.None).Within();
        }
    }

    public async Task DisposeAsync()
    {
        await _influx.DisposeAsync();
        await _duck.DisposeAsync();
    }

    public static TheoryData<string, string?, string?> Scopes => new()
    {
        { Metrics.WaterConsumption, "wm-1", null },
        { Metrics.WaterConsumption, null, "c1" },
        { Metrics.ElectricityTotal, null, "c2" },
        { Metrics.GatePass, "gate-0", "c1" },
        { Metrics.GatePass, null, "c1" },
        { Metrics.ParkingFree, "park-1", null },
        { "camera.crowd", null, "c1" },
    };

    [Theory]
    [InlineData(null)]
    [InlineData("c1")]
    public async Task Hourly_windows_agree_series_by_series_and_household_by_household(string? community)
    {
        string[] metrics = [Metrics.WaterConsumption, Metrics.ElectricityTotal, Metrics.GatePass];
        async Task<List<HourlySeries>> Window(IHourlyWindowStore store)
        {
            var list = new List<HourlySeries>();
            await foreach (var series in store.HourlyAsync(metrics, Day.AddHours(1), Day.AddDays(2), community, CancellationToken.None)) list.Add(series);
            return list;
        }

        var duck = await Window(_duck.Store).Within();
        var influx = await Window(_influx.Store).Within();

        Assert.Contains(duck, s => s.Metric == Metrics.GatePass && s.Household == "h-7");
        Assert.Contains(duck, s => s.Metric == Metrics.GatePass && s.Household is null);
        Assert.Equal(duck.Count, influx.Count);
        foreach (var (d, i) in duck.Zip(influx))
        {
            Assert.Equal(d with { Sum = 0 }, i with { Sum = 0 });
            Assert.Equal(d.Sum, i.Sum, 9);
        }
    }

    [Theory]
    [MemberData(nameof(Scopes))]
    public async Task Buckets_and_raw_points_agree(string metric, string? device, string? community)
    {
        foreach (var every in new TimeSpan?[] { null, TimeSpan.FromMinutes(15), TimeSpan.FromHours(1), TimeSpan.FromDays(1) })
        {
            foreach (var agg in Enum.GetValues<Aggregation>())
            {
                if (every is null && agg != Aggregation.Mean)
                {
                    continue; // raw points ignore the aggregation
                }

                var query = new ReadingQuery(metric, Day.AddHours(3).AddMinutes(17), Day.AddDays(2), device, community, every, agg);
                var duck = await _duck.Store.QueryAsync(query, CancellationToken.None).Within();
                var influx = await _influx.Store.QueryAsync(query, CancellationToken.None).Within();

                Assert.NotEmpty(duck);
                Assert.Equal(duck.Select(b => b.Time), influx.Select(b => b.Time));
                // Sums and means may differ in the last bits (the stores add in different orders).
                Assert.All(duck.Zip(influx), pair => Assert.Equal(pair.First.Value, pair.Second.Value, 9));
            }
        }
    }

    [Fact]
    public async Task Counts_per_community_agree_and_equal_each_communitys_own_count()
    {
        (DateTimeOffset From, DateTimeOffset To)[] ranges =
        [
            (Day, Day.AddDays(2)),
            (Day.AddHours(3).AddMinutes(17).AddSeconds(29), Day.AddDays(1).AddHours(5).AddSeconds(3)),
            (Day.AddHours(30).AddSeconds(10), Day.AddHours(30).AddSeconds(50)),
        ];
        foreach (var metric in new[] { Metrics.WaterConsumption, Metrics.GatePass, Metrics.ParkingFree })
        {
            foreach (var (from, to) in ranges)
            {
                var duck = await _duck.Store.CountPerCommunityAsync(metric, from, to, CancellationToken.None).Within();
                var influx = await _influx.Store.CountPerCommunityAsync(metric, from, to, CancellationToken.None).Within();
                Assert.Equal(duck.OrderBy(p => p.Key), influx.OrderBy(p => p.Key));
                foreach (var community in new[] { "c1", "c2" })
                {
                    var own = await _influx.Store.QueryAsync(new ReadingQuery(metric, from, to, Community: community, Every: TimeSpan.FromDays(1), Aggregation: Aggregation.Count), CancellationToken.None).Within();
                    Assert.Equal((long)own.Sum(b => b.Value), influx.GetValueOrDefault(community));
                }
            }

            Assert.NotEmpty(await _influx.Store.CountPerCommunityAsync(metric, Day, Day.AddDays(2), CancellationToken.None).Within());
        }
    }

    [Fact]
    public async Task Latest_and_latest_per_device_agree()
    {
        foreach (var metric in new[] { Metrics.WaterConsumption, Metrics.ElectricityTotal, Metrics.GatePass, Metrics.ParkingFree, "camera.crowd" })
        {
            foreach (var community in new[] { "c1", "c2" })
            {
                Assert.Equal(
                    await _duck.Store.LatestAsync(community, metric, CancellationToken.None).Within(),
                    await _influx.Store.LatestAsync(community, metric, CancellationToken.None).Within());
            }

            var perDevice = await _duck.Store.LatestPerDeviceAsync(metric, CancellationToken.None).Within();
            Assert.NotEmpty(perDevice);
            Assert.Equal(perDevice, await _influx.Store.LatestPerDeviceAsync(metric, CancellationToken.None).Within());
        }
    }
}
