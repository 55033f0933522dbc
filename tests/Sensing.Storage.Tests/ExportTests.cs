using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

public sealed class ExportTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private TempStore _db = null!;

    public async Task InitializeAsync()
    {
        _db = await TempStore.CreateAsync();
        await _db.Store.WriteAsync(
        [
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(1), 1.5, household: "h-1"),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(2), 2.5, household: "h-1"),
            Sample.Point("p1", Metrics.ParkingFree, Day.AddMinutes(2), 12, label: "P1", attributes: """{"capacity":200}"""),
            Sample.Point("m9", Metrics.WaterConsumption, Day.AddMinutes(3), 9, community: "c2"),
            Sample.Point("m1", Metrics.WaterConsumption, Day.AddHours(2), 99),   // outside the range
        ], CancellationToken.None).Within();
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private string ExportPath(string name) => Path.Combine(_db.Store.ExportDirectory, name);

    [Fact]
    public async Task A_range_of_one_community_round_trips_through_a_real_parquet_file()
    {
        var path = ExportPath("c1-export.parquet");

        var rows = await _db.Store.ExportAsync(Day, Day.AddHours(1), path, "c1", CancellationToken.None).Within();

        Assert.Equal(3, rows);
        // "PAR1" opens and closes every Parquet file; read_parquet then reads it back as DuckDB sees it.
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.Equal("PAR1"u8.ToArray(), bytes[..4]);
        Assert.Equal("PAR1"u8.ToArray(), bytes[^4..]);
        var exported = await _db.SqlAsync($"SELECT device, community, household, metric, label, ts, value, attributes FROM read_parquet('{path}')");
        var expected = await _db.SqlAsync("""
            SELECT device, community, household, metric, nullif(label, ''), ts, value, attributes FROM readings
            WHERE community = 'c1' AND ts < TIMESTAMP '2026-11-20 01:00:00' ORDER BY ts, device, metric, label
            """);
        Assert.Equal(expected, exported);
        Assert.Equal("P1", exported.Single(r => (string)r[0]! == "p1")[4]);
        Assert.Null(exported.First(r => (string)r[0]! == "m1")[4]);
    }

    [Fact]
    public async Task Without_a_community_every_community_is_exported()
    {
        var path = ExportPath("all.parquet");
        Assert.Equal(4, await _db.Store.ExportAsync(Day, Day.AddHours(1), path, null, CancellationToken.None).Within());
        Assert.Equal(4L, (await _db.SqlAsync($"SELECT count(*) FROM read_parquet('{path}')"))[0][0]);
    }

    [Theory]
    [InlineData("relative.parquet")]
    [InlineData("../escape.parquet")]
    [InlineData("sub/nested.parquet")]
    [InlineData("quote'); DROP TABLE readings; --.parquet")]
    [InlineData("no-extension")]
    [InlineData(".hidden.parquet")]
    public async Task Paths_outside_the_export_folder_or_with_unsafe_names_are_refused(string name)
    {
        var path = name == "relative.parquet" ? name : _db.Store.ExportDirectory + "/" + name;
        await Assert.ThrowsAsync<ArgumentException>(() => _db.Store.ExportAsync(Day, Day.AddHours(1), path, null, CancellationToken.None).Within());
        await Assert.ThrowsAsync<ArgumentException>(() =>
            _db.Store.ExportAsync(Day, Day.AddHours(1), Path.Combine(Path.GetTempPath(), "elsewhere.parquet"), null, CancellationToken.None).Within());
        Assert.Equal(5, await _db.CountReadingsAsync());
    }

    [Fact]
    public async Task An_existing_file_is_never_overwritten()
    {
        var path = ExportPath("taken.parquet");
        Directory.CreateDirectory(_db.Store.ExportDirectory);
        await File.WriteAllTextAsync(path, "keep me");

        await Assert.ThrowsAsync<IOException>(() => _db.Store.ExportAsync(Day, Day.AddHours(1), path, null, CancellationToken.None).Within());
        Assert.Equal("keep me", await File.ReadAllTextAsync(path));
    }
}
