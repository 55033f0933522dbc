using DuckDB.NET.Data;
using DuckDB.NET.Native;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

/// <summary>
/// A fatal DuckDB error invalidates the database instance: every statement on every connection fails until all are
/// closed and the file is opened again. Seen in the end-to-end benchmark (a checkpoint after an out-of-memory append
/// under a small <c>Store:MemoryLimit</c>); here DuckDB's own switch for testing a failed checkpoint causes one.
/// </summary>
public sealed class FatalErrorTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = Sample.Day;
    private TempStore _db = null!;

    public async Task InitializeAsync() => _db = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private async Task InvalidateAsync()
    {
        await _db.SqlAsync("SET debug_checkpoint_abort = 'before_header'").Within();
        var fatal = await Assert.ThrowsAsync<DuckDBException>(() => _db.SqlAsync("CHECKPOINT")).Within();
        Assert.Equal(DuckDBErrorType.Fatal, fatal.ErrorType);
    }

    [Fact]
    public async Task The_write_after_a_fatal_error_fails_and_its_retry_reopens_the_file_with_every_committed_write()
    {
        var store = _db.Store;
        await store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Day, 1)], CancellationToken.None).Within();
        await store.UpsertAsync(AlertStoreTests.NewAlert("a-before", Day), CancellationToken.None).Within();
        await InvalidateAsync();

        // The first write meets the invalidated instance and fails (ingest spools the batch and tries again)…
        Reading[] second = [Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(15), 2)];
        var refused = await Assert.ThrowsAsync<DuckDBException>(() => store.WriteAsync(second, CancellationToken.None)).Within();
        Assert.Equal(DuckDBErrorType.Fatal, refused.ErrorType);
        // …and the retry opens the file again instead of failing for as long as the process runs.
        await store.WriteAsync(second, CancellationToken.None).Within();
        await store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(30), 4)], CancellationToken.None).Within();

        // Everything committed before the error was replayed from the log; the writes after it are there once.
        var rows = await _db.SqlAsync("SELECT count(*), sum(value) FROM readings").Within();
        Assert.Equal(3L, Convert.ToInt64(rows[0][0]));
        Assert.Equal(7.0, Convert.ToDouble(rows[0][1]));
        Assert.Equal("a-before", Assert.Single(await store.LoadAsync(Day.AddDays(-1), CancellationToken.None).Within()).Id);
        // A new instance: DuckDB's test switch is gone with the old one, and a checkpoint succeeds.
        await _db.SqlAsync("CHECKPOINT").Within();
    }

    [Fact]
    public async Task A_query_that_meets_a_fatal_error_fails_once_and_the_next_one_reopens_the_file()
    {
        var store = _db.Store;
        await store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Day, 1)], CancellationToken.None).Within();
        await InvalidateAsync();

        // A wall screen reading while nothing is written (a quiet night): the query that meets the error fails…
        var query = new ReadingQuery(Metrics.WaterConsumption, Day.AddDays(-1), Day.AddDays(1), Device: "m1", Limit: 10);
        var refused = await Assert.ThrowsAsync<DuckDBException>(() => store.QueryAsync(query, CancellationToken.None)).Within();
        Assert.Equal(DuckDBErrorType.Fatal, refused.ErrorType);
        // …and the next opens the file again rather than waiting for a write to do it.
        Assert.Equal(1.0, Assert.Single(await store.QueryAsync(query, CancellationToken.None).Within()).Value);
        Assert.Single(await store.LatestAsync("c1", Metrics.WaterConsumption, CancellationToken.None).Within());
        await _db.SqlAsync("CHECKPOINT").Within();
    }

    [Fact]
    public async Task An_alert_written_after_a_fatal_error_is_refused_once_and_its_retry_reopens_the_file()
    {
        var store = _db.Store;
        await store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Day, 1)], CancellationToken.None).Within();
        await InvalidateAsync();

        // The alert book keeps a refused alert and writes it again with its next change or escalation tick.
        var alert = AlertStoreTests.NewAlert("a-after", Day);
        await Assert.ThrowsAsync<DuckDBException>(() => store.UpsertAsync(alert, CancellationToken.None)).Within();
        await store.UpsertAsync(alert, CancellationToken.None).Within();

        Assert.Equal("a-after", Assert.Single(await store.LoadAsync(Day.AddDays(-1), CancellationToken.None).Within()).Id);
        // The readings writer was reopened with it: the next batch is written at the first attempt.
        await store.WriteAsync([Sample.Point("m1", Metrics.WaterConsumption, Day.AddMinutes(15), 2)], CancellationToken.None).Within();
        var rows = await _db.SqlAsync("SELECT count(*) FROM readings").Within();
        Assert.Equal(2L, Convert.ToInt64(rows[0][0]));
    }
}
