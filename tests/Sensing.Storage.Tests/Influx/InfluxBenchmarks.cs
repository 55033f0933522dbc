using System.Diagnostics;
using Sensing.Telemetry;
using Xunit.Abstractions;

namespace Sensing.Storage.Tests.Influx;

/// <summary>
/// Figures against the real influxd, printed rather than asserted (machines differ):
/// <code>dotnet test tests/Sensing.Storage.Tests --filter "Category=Benchmark" --logger "console;verbosity=detailed"</code>
/// </summary>
[Collection(InfluxCollection.Name)]
[Trait("Category", "Integration")]
[Trait("Category", "Benchmark")]
public sealed class InfluxBenchmarks(InfluxServer server, ITestOutputHelper output)
{
    private static readonly DateTimeOffset Start = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Write_throughput_and_a_30_day_hourly_household_history()
    {
        await using var db = await InfluxTestStore.CreateAsync(server.Url);

        // 100 households × 2 meters (water, electricity) × 30 days × 24 hourly consumption readings = 144,000 readings.
        var readings = new List<Reading>(144_000);
        var random = new Random(2026);
        for (var hour = 0; hour < 30 * 24; hour++)
        {
            for (var h = 0; h < 100; h++)
            {
                var household = $"h-{h:0000}";
                var grid = $"g{h % 4 + 1}";
                readings.Add(new Reading($"c1-wm-{h:0000}", "c1", grid, household, Metrics.WaterConsumption, Start.AddHours(hour), Math.Round(random.NextDouble() * 0.05, 4)));
                readings.Add(new Reading($"c1-em-{h:0000}", "c1", grid, household, Metrics.ElectricityConsumption, Start.AddHours(hour), Math.Round(random.NextDouble() * 1.5, 3)));
            }
        }

        // Warm-up: the HTTP connection, the shard for the month, JIT.
        await db.Store.WriteAsync(readings.GetRange(0, 5_000), CancellationToken.None).Within();

        var batches = 0;
        var clock = Stopwatch.StartNew();
        for (var offset = 0; offset < readings.Count; offset += 5_000)
        {
            await db.Store.WriteAsync(readings.GetRange(offset, Math.Min(5_000, readings.Count - offset)), CancellationToken.None).Within();
            batches++;
        }

        clock.Stop();
        var perSecond = readings.Count / clock.Elapsed.TotalSeconds;
        output.WriteLine($"write: {readings.Count:N0} readings in {batches} batches of 5,000 in {clock.Elapsed.TotalSeconds:F2} s = {perSecond:N0} readings/s ({clock.Elapsed.TotalMilliseconds / batches:F1} ms per batch)");
        Assert.Equal(readings.Count, await db.CountAsync("meter"));

        var query = new ReadingQuery(Metrics.WaterConsumption, Start, Start.AddDays(30), Device: "c1-wm-0042",
            Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Sum);
        var expected = readings.Where(r => r.Device == "c1-wm-0042").Sum(r => r.Value);
        var times = new List<double>();
        for (var i = 0; i < 6; i++)
        {
            var watch = Stopwatch.StartNew();
            var buckets = await db.Store.QueryAsync(query, CancellationToken.None).Within();
            var electricity = await db.Store.QueryAsync(query with { Metric = Metrics.ElectricityConsumption, Device = "c1-em-0042" }, CancellationToken.None).Within();
            watch.Stop();
            Assert.Equal(720, buckets.Count);
            Assert.Equal(720, electricity.Count);
            Assert.Equal(expected, buckets.Sum(b => b.Value), 6);
            if (i > 0)
            {
                times.Add(watch.Elapsed.TotalMilliseconds); // the first run warms the caches
            }
        }

        times.Sort();
        output.WriteLine($"query: 30-day hourly sum of one household's 2 meters (2 × 720 buckets) among 100 households: median {times[2]:F1} ms of 5 (min {times[0]:F1}, max {times[4]:F1})");
    }
}
