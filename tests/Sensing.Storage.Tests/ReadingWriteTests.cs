using Microsoft.Extensions.Logging;
using Sensing.Telemetry;
using Sensing.Testing;

namespace Sensing.Storage.Tests;

public sealed class ReadingWriteTests : IAsyncLifetime
{
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task Each_reading_kind_round_trips_with_all_its_columns()
    {
        // Local Shanghai time in, UTC out.
        var t = new DateTimeOffset(2026, 11, 20, 7, 15, 0, TimeSpan.FromHours(8));
        Reading[] batch =
        [
            new("c1-wm-0042", "c1", "g1", "h-0042", Metrics.WaterTotal, t, 123.456),
            new("c1-gate-01", "c1", "g1", "h-0007", Metrics.GatePass, t, 1, "in", """{"credential":"face"}"""),
            new("c1-park-01", "c1", "g2", null, Metrics.ParkingFree, t, 12, "P1"),
            new("c1-park-01", "c1", "g2", null, Metrics.ParkingCapacity, t, 200, "P1"),
            new("c1-cam-007", "c1", null, null, "camera.crowd", t, 37, "east-gate", """{"score":0.91}"""),
        ];

        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();

        var rows = await _db.SqlAsync("""
            SELECT device, community, grid, household, metric, epoch_us(ts), value, label, attributes
            FROM readings ORDER BY device, metric
            """);
        var stored = rows.Select(r => new Reading(
            (string)r[0]!, (string)r[1]!, (string?)r[2], (string?)r[3], (string)r[4]!,
            DateTimeOffset.UnixEpoch.AddTicks((long)r[5]! * 10), (double)r[6]!,
            (string)r[7]! is "" ? null : (string)r[7]!, (string?)r[8])).ToList();
        var expected = batch.Select(r => r with { Time = r.Time.ToUniversalTime() })
            .OrderBy(r => r.Device, StringComparer.Ordinal).ThenBy(r => r.Metric, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, stored);

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
    }

    [Fact]
    public async Task Writing_the_same_batch_twice_keeps_one_row_per_reading()
    {
        Reading[] batch =
        [
            Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 10),
            Sample.Point("m1", Metrics.WaterTotal, Sample.Day.AddMinutes(15), 11),
            Sample.Point("g1", Metrics.GatePass, Sample.Day, 1, label: "in"),
            Sample.Point("g1", Metrics.GatePass, Sample.Day, 1, label: "out"),
            Sample.Point("g1", Metrics.GatePass, Sample.Day, 1),
        ];

        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();

        Assert.Equal(5, await _db.CountReadingsAsync());
    }

    [Fact]
    public async Task Duplicates_inside_one_batch_keep_the_first_and_a_later_write_does_not_replace_it()
    {
        Reading[] batch =
        [
            Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 10),
            Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 99),
            Sample.Point("m1", Metrics.WaterTotal, Sample.Day.AddMinutes(1), 11),
            // Same instant written with another offset is the same reading.
            Sample.Point("m1", Metrics.WaterTotal, Sample.Day.ToOffset(TimeSpan.FromHours(8)), 98),
        ];
        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();
        await _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 77)], CancellationToken.None).Within();

        var points = await _db.Store.QueryAsync(
            new ReadingQuery(Metrics.WaterTotal, Sample.Day, Sample.Day.AddHours(1), Device: "m1"), CancellationToken.None).Within();
        Assert.Equal([new Bucket(Sample.Day, 10), new Bucket(Sample.Day.AddMinutes(1), 11)], points);
    }

    [Fact]
    public async Task A_new_file_keeps_readings_unique_without_a_key_index()
    {
        // No PRIMARY KEY on purpose (DuckDbSchema: its index grows with the whole history); the write's own check
        // is what keeps a redelivery out, so it must hold across batches, within a batch and across a reopen.
        var constraints = await _db.SqlAsync("SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'readings' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')");
        var indexes = await _db.SqlAsync("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'readings'");
        Assert.Empty(constraints);
        Assert.Empty(indexes);

        Reading[] batch = [.. Enumerable.Range(0, 300).Select(i => Sample.Point($"m{i % 7}", Metrics.WaterTotal, Sample.Day.AddMinutes(i / 7), i))];
        await _db.Store.WriteAsync([.. batch, .. batch.Take(50)], CancellationToken.None).Within();
        await _db.Store.WriteAsync(batch.Skip(100).ToArray(), CancellationToken.None).Within();
        await _db.ReopenAsync();
        await _db.Store.WriteAsync(batch, CancellationToken.None).Within();

        Assert.Equal(300, await _db.CountReadingsAsync());
        var keys = await _db.SqlAsync("SELECT count(*) FROM (SELECT DISTINCT device, metric, label, ts FROM readings)");
        Assert.Equal(300L, Convert.ToInt64(keys[0][0]));
        var perHour = await _db.Store.QueryAsync(new ReadingQuery(Metrics.WaterTotal, Sample.Day, Sample.Day.AddDays(1),
            Community: "c1", Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Sum), CancellationToken.None).Within();
        Assert.Equal(Enumerable.Range(0, 300).Sum(), perHour.Sum(b => b.Value));
    }

    [Fact]
    public async Task A_file_created_with_the_old_primary_key_still_stores_each_reading_once_and_says_why_it_is_slower()
    {
        var path = Path.Combine(_db.Folder, "old", "sensing.duckdb");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var connection = new DuckDB.NET.Data.DuckDBConnection(new DuckDB.NET.Data.DuckDBConnectionStringBuilder { DataSource = path }.ConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // The readings table as files of earlier versions have it.
            command.CommandText = """
                CREATE TABLE readings (
                    device VARCHAR NOT NULL, metric VARCHAR NOT NULL, label VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
                    value DOUBLE NOT NULL, community VARCHAR NOT NULL, grid VARCHAR, household VARCHAR, attributes VARCHAR,
                    PRIMARY KEY (device, metric, label, ts));
                INSERT INTO readings VALUES ('m1', 'water.total', '', TIMESTAMP '2026-11-20 00:00:00', 10, 'c1', 'g1', NULL, NULL);
                """;
            command.ExecuteNonQuery();
        }

        var log = new LogBook();
        await using var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(path), log.CreateLogger("store")).Within();
        Reading[] batch =
        [
            Sample.Point("m1", Metrics.WaterTotal, new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero), 99),
            Sample.Point("m1", Metrics.WaterTotal, new DateTimeOffset(2026, 11, 20, 0, 15, 0, TimeSpan.Zero), 11),
            Sample.Point("m1", Metrics.WaterTotal, new DateTimeOffset(2026, 11, 20, 0, 15, 0, TimeSpan.Zero), 12),
        ];
        await store.WriteAsync(batch, CancellationToken.None).Within();
        await store.WriteAsync(batch, CancellationToken.None).Within();

        var points = await store.QueryAsync(new ReadingQuery(Metrics.WaterTotal, batch[0].Time, batch[0].Time.AddHours(1), Device: "m1"),
            CancellationToken.None).Within();
        Assert.Equal([new Bucket(batch[0].Time, 10), new Bucket(batch[1].Time, 11)], points);
        var warning = Assert.Single(log.Lines, e => e.Level == LogLevel.Warning);
        Assert.Contains("primary key on readings", warning.Message, StringComparison.Ordinal);
        Assert.Contains(path, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_file_says_nothing_about_an_old_key()
    {
        var log = new LogBook();
        await using var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(Path.Combine(_db.Folder, "fresh", "sensing.duckdb")), log.CreateLogger("store")).Within();
        Assert.DoesNotContain(log.Lines, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task An_empty_batch_is_a_no_op()
    {
        await _db.Store.WriteAsync([], CancellationToken.None).Within();
        await _db.Store.WriteDeadLettersAsync([], CancellationToken.None).Within();
        Assert.Equal(0, await _db.CountReadingsAsync());
    }

    [Fact]
    public async Task Data_survives_closing_and_reopening_the_file()
    {
        await _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 10)], CancellationToken.None).Within();
        await _db.Store.WriteDeadLettersAsync(
            [new DeadLetter("sensing/c1/meter/m1", [1, 2, 3], 3, Sample.Day, "meter: field 'total' is missing", "native")],
            CancellationToken.None).Within();
        await _db.Store.UpsertAsync(AlertStoreTests.NewAlert("a-1", Sample.Day), CancellationToken.None).Within();

        await _db.ReopenAsync();

        var points = await _db.Store.QueryAsync(
            new ReadingQuery(Metrics.WaterTotal, Sample.Day, Sample.Day.AddDays(1), Community: "c1"), CancellationToken.None).Within();
        Assert.Equal([new Bucket(Sample.Day, 10)], points);
        var letter = Assert.Single(await _db.Store.DeadLettersAsync(null, 10, CancellationToken.None).Within());
        Assert.Equal([1, 2, 3], letter.Payload);
        Assert.Equal("a-1", Assert.Single(await _db.Store.LoadAsync(Sample.Day, CancellationToken.None).Within()).Id);

        // Reopening an existing file must not trip over the schema, and idempotency still holds across restarts.
        await _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 55)], CancellationToken.None).Within();
        Assert.Equal(1, await _db.CountReadingsAsync());
    }

    [Fact]
    public async Task Concurrent_writers_and_readers_do_not_throw_and_lose_nothing()
    {
        const int writers = 4, batches = 15, perBatch = 50;
        using var done = new CancellationTokenSource();

        var writing = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var b = 0; b < batches; b++)
            {
                var batch = Enumerable.Range(0, perBatch)
                    .Select(i => Sample.Point($"m{w}", Metrics.WaterConsumption, Sample.Day.AddSeconds(b * perBatch + i), 1))
                    .ToList();
                await _db.Store.WriteAsync(batch, CancellationToken.None);
                // Alerts share the writer; interleave them to prove the lock covers both.
                await _db.Store.UpsertAsync(AlertStoreTests.NewAlert($"a-{w}-{b}", Sample.Day), CancellationToken.None);
            }
        })).ToList();

        var reading = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            var queries = 0;
            while (!done.IsCancellationRequested || queries == 0)
            {
                await _db.Store.QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Sample.Day, Sample.Day.AddDays(1),
                    Community: "c1", Every: TimeSpan.FromMinutes(5), Aggregation: Aggregation.Sum), CancellationToken.None);
                await _db.Store.LatestPerDeviceAsync(Metrics.WaterConsumption, CancellationToken.None);
                await _db.Store.LoadAsync(Sample.Day, CancellationToken.None);
                queries++;
            }
        })).ToList();

        await Task.WhenAll(writing).Within();
        await done.CancelAsync();
        await Task.WhenAll(reading).Within();

        Assert.Equal(writers * batches * perBatch, await _db.CountReadingsAsync());
        var total = await _db.Store.QueryAsync(new ReadingQuery(Metrics.WaterConsumption, Sample.Day, Sample.Day.AddDays(1),
            Community: "c1", Every: TimeSpan.FromDays(1), Aggregation: Aggregation.Sum), CancellationToken.None).Within();
        Assert.Equal(writers * batches * perBatch, Assert.Single(total).Value);
        Assert.Equal(writers * batches, (await _db.Store.LoadAsync(Sample.Day, CancellationToken.None).Within()).Count);
    }

    [Fact]
    public async Task A_disposed_store_refuses_work()
    {
        await _db.Store.DisposeAsync();
        await _db.Store.DisposeAsync(); // twice is fine: DI disposes it once per registered service
        await Assert.ThrowsAsync<ObjectDisposedException>(() =>
            _db.Store.WriteAsync([Sample.Point("m1", Metrics.WaterTotal, Sample.Day, 1)], CancellationToken.None)).Within();
        await _db.ReopenAsync();
    }
}
