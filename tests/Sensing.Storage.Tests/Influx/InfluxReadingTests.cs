using System.Text.Json;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests.Influx;

[Collection(InfluxCollection.Name)]
[Trait("Category", "Integration")]
public sealed class InfluxReadingTests(InfluxServer server) : IAsyncLifetime
{
    private InfluxTestStore _db = null!;

    public async Task InitializeAsync() => _db = await InfluxTestStore.CreateAsync(server.Url);

    public async Task DisposeAsync() => await _db.DisposeAsync();

    /// <summary>Every stored reading, read back from all reading measurements with their tags and fields.</summary>
    private async Task<List<Reading>> StoredAsync()
    {
        var stored = new List<Reading>();
        foreach (var measurement in new[] { "meter", "gate", "parking", "camera", "reading" })
        {
            var rows = await _db.QueryAsync($"SELECT * FROM \"{measurement}\"");
            var columns = _db.Columns;
            string? Text(JsonElement[] row, string column)
            {
                var i = Array.IndexOf(columns, column);
                return i < 0 || row[i].ValueKind == JsonValueKind.Null ? null : row[i].GetString();
            }

            foreach (var row in rows)
            {
                stored.Add(new Reading(
                    Text(row, "device")!, Text(row, "community")!, Text(row, "grid"), Text(row, "household"), Text(row, "metric")!,
                    DateTimeOffset.FromUnixTimeMilliseconds(row[0].GetInt64()), row[Array.IndexOf(columns, "value")].GetDouble(),
                    Text(row, "label"), Text(row, "attributes")));
            }
        }

        return stored.OrderBy(r => r.Device, StringComparer.Ordinal).ThenBy(r => r.Metric, StringComparer.Ordinal).ThenBy(r => r.Time).ToList();
    }

    [Fact]
    public async Task Each_reading_kind_round_trips_with_all_its_columns()
    {
        // Local Shanghai time in, UTC out.
        var t = new DateTimeOffset(2026, 11, 20, 7, 15, 0, TimeSpan.FromHours(8));
        Reading[] batch =
        [
            new("c1-wm-0042", "c1", "g1", "h-0042", Metrics.WaterTotal, t, 123.456),
            new("c1-wm-0042", "c1", "g1", "h-0042", Metrics.WaterConsumption, t, 0.012),
            new("c1-em-0042", "c1", "g1", "h-0042", Metrics.ElectricityTotal, t, 4567.8),
            new("c1-em-0042", "c1", "g1", "h-0042", Metrics.ElectricityConsumption, t, 0.25),
            new("c1-gate-01", "c1", "g1", "h-0007", Metrics.GatePass, t, 1, "in", """{"credential":"face"}"""),
            new("c1-park-01", "c1", "g2", null, Metrics.ParkingFree, t, 12, "P1"),
            new("c1-park-01", "c1", "g2", null, Metrics.ParkingCapacity, t, 200, "P1"),
            new("c1-cam-007", "c1", null, null, "camera.crowd", t, 37, "east-gate", """{"score":0.91}"""),
            // Every character line protocol escapes, in every position it can appear, plus UTF-8 and big/small figures.
            new("c1-gate, 2=x", "c 1,=", "g=1 ,", null, Metrics.GateDenied, t, 1e20, "东门 \"main\"", """{"note":"a\\b \"q\", c=d"}"""),
            new("c1-park-02", "c1", "g2", null, Metrics.ParkingOccupied, t, 5e-324, "space 17"),
            new("v-1", "c2", "g1", "h-9", "vendor.temperature", t, -12.5),
        ];

        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();

        var expected = batch.Select(r => r with { Time = r.Time.ToUniversalTime() })
            .OrderBy(r => r.Device, StringComparer.Ordinal).ThenBy(r => r.Metric, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, await StoredAsync());

        // And through the port: each series answers with its value at the UTC instant, offset zero.
        foreach (var r in batch)
        {
            var points = await _db.Store.QueryAsync(
                new ReadingQuery(r.Metric, t.AddMinutes(-1), t.AddMinutes(1), Device: r.Device), CancellationToken.None).Within();
            var point = Assert.Single(points);
            Assert.Equal(new DateTimeOffset(2026, 11, 19, 23, 15, 0, TimeSpan.Zero), point.Time);
            Assert.Equal(TimeSpan.Zero, point.Time.Offset);
            Assert.Equal(r.Value, point.Value);
        }

        // Household is a tag of meters only; a gate pass keeps it as a field (no series per household).
        var tagKeys = await _db.QueryAsync("SHOW TAG KEYS FROM \"gate\"");
        Assert.DoesNotContain("household", tagKeys.Select(row => row[0].GetString()));
        Assert.Contains("household", (await _db.QueryAsync("SHOW TAG KEYS FROM \"meter\"")).Select(row => row[0].GetString()));
    }

    [Fact]
    public async Task Writing_the_same_batch_twice_keeps_one_point_per_reading()
    {
        Reading[] batch =
        [
            Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 10, household: "h-1"),
            Sample.Point("m1", Metrics.WaterTotal, Sample.Day.AddMinutes(15), 11, household: "h-1"),
            Sample.Point("g1", Metrics.GatePass, Sample.Day, 1, label: "in"),
            Sample.Point("g1", Metrics.GatePass, Sample.Day, 1, label: "out"),
            Sample.Point("g1", Metrics.GatePass, Sample.Day, 1),
        ];

        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();

        Assert.Equal(2, await _db.CountAsync("meter"));
        Assert.Equal(3, await _db.CountAsync("gate"));
        var sum = await _db.Store.QueryAsync(new ReadingQuery(Metrics.GatePass, Sample.Day, Sample.Day.AddDays(1),
            Community: "c1", Every: TimeSpan.FromDays(1), Aggregation: Aggregation.Sum), CancellationToken.None).Within();
        Assert.Equal([new Bucket(Sample.Day, 3)], sum);
    }

    [Fact]
    public async Task A_rewrite_of_a_key_replaces_its_point_so_the_last_write_wins()
    {
        // InfluxDB keeps one point per key and overwrites it; DuckDB keeps the first. For a redelivery (the case the
        // port cares about) both are the same figure; this pins the InfluxDB behaviour down.
        await _db.Store.WriteAsync(
            [Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 10), Sample.Point("m1", Metrics.WaterTotal, Sample.Day.ToOffset(TimeSpan.FromHours(8)), 98)],
            CancellationToken.None).Within();
        await _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 77)], CancellationToken.None).Within();

        var points = await _db.Store.QueryAsync(
            new ReadingQuery(Metrics.WaterTotal, Sample.Day, Sample.Day.AddHours(1), Device: "m1"), CancellationToken.None).Within();
        Assert.Equal([new Bucket(Sample.Day, 77)], points);
    }

    [Fact]
    public async Task An_empty_batch_is_a_no_op_and_a_reading_line_protocol_cannot_carry_is_refused()
    {
        await _db.Store.WriteAsync([], CancellationToken.None).Within();
        await _db.Store.WriteDeadLettersAsync([], CancellationToken.None).Within();
        Assert.Equal(0, await _db.CountAsync("meter"));

        await Assert.ThrowsAsync<ArgumentException>(() => _db.Store.WriteAsync(
            [Sample.Point("m1", Metrics.WaterTotal, Sample.Day, double.NaN)], CancellationToken.None)).Within();
        await Assert.ThrowsAsync<ArgumentException>(() => _db.Store.WriteAsync(
            [Sample.Point("m1\nx", Metrics.WaterTotal, Sample.Day, 1)], CancellationToken.None)).Within();
    }

    [Fact]
    public async Task Nanosecond_precision_keeps_every_tick()
    {
        await using var ns = await InfluxTestStore.CreateAsync(server.Url, new() { ["Store:Precision"] = "ns" });
        var t = Sample.Day.AddTicks(1_234_567); // 123.4567 ms
        await ns.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, t, 1)], CancellationToken.None).Within();

        var point = Assert.Single(await ns.Store.QueryAsync(
            new ReadingQuery(Metrics.WaterTotal, Sample.Day, Sample.Day.AddSeconds(1), Device: "m1"), CancellationToken.None).Within());
        Assert.Equal(t, point.Time);

        // The millisecond store (the default) keeps the millisecond.
        await _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, t, 1)], CancellationToken.None).Within();
        point = Assert.Single(await _db.Store.QueryAsync(
            new ReadingQuery(Metrics.WaterTotal, Sample.Day, Sample.Day.AddSeconds(1), Device: "m1"), CancellationToken.None).Within());
        Assert.Equal(Sample.Day.AddMilliseconds(123), point.Time);
    }

    [Fact]
    public async Task Concurrent_writers_lose_nothing()
    {
        const int writers = 4, batches = 10, perBatch = 200;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var b = 0; b < batches; b++)
            {
                var batch = Enumerable.Range(0, perBatch)
                    .Select(i => Sample.Point($"m{w}", Metrics.WaterConsumption, Sample.Day.AddSeconds(b * perBatch + i), 1))
                    .ToList();
                await _db.Store.WriteAsync(batch, CancellationToken.None);
            }
        }))).Within();

        var total = await _db.Store.QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Sample.Day, Sample.Day.AddDays(1),
            Community: "c1", Every: TimeSpan.FromDays(1), Aggregation: Aggregation.Sum), CancellationToken.None).Within();
        Assert.Equal(writers * batches * perBatch, Assert.Single(total).Value);
    }
}
