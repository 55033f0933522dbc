using DuckDB.NET.Data;
using Sensing.Telemetry;

namespace Sensing.Storage.Tests;

/// <summary>A store on a real DuckDB file in a fresh temporary folder, deleted afterwards.</summary>
internal sealed class TempStore : IAsyncDisposable
{
    private readonly TimeProvider? _time;

    private TempStore(string folder, DuckDbReadingStore store, TimeProvider? time)
    {
        Folder = folder;
        Store = store;
        _time = time;
    }

    public string Folder { get; }
    public string FilePath => System.IO.Path.Combine(Folder, "nested", "sensing.duckdb");
    public DuckDbReadingStore Store { get; private set; }

    /// <param name="time">The store's wall clock (its rollups' progress follows it); the system clock when null.</param>
    public static async Task<TempStore> CreateAsync(TimeProvider? time = null)
    {
        var folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sensing-storage-tests", Guid.NewGuid().ToString("N"));
        // The store must create the missing folders itself.
        var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(System.IO.Path.Combine(folder, "nested", "sensing.duckdb")), time: time).Within();
        return new TempStore(folder, store, time);
    }

    /// <summary>Closes the file and opens it again with a new store, as a restart would.</summary>
    public async Task ReopenAsync()
    {
        await Store.DisposeAsync().AsTask().Within();
        Store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(FilePath), time: _time).Within();
    }

    /// <summary>Runs test-only SQL on the same database instance (DuckDB.NET shares it by data source).</summary>
    public async Task<List<object?[]>> SqlAsync(string sql)
    {
        await using var connection = new DuckDBConnection(new DuckDBConnectionStringBuilder { DataSource = Store.FilePath }.ConnectionString);
        connection.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var rows = new List<object?[]>();
        await using var reader = await command.ExecuteReaderAsync().Within();
        while (await reader.ReadAsync().Within())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// Series-buckets of a rollup table that differ from the same fold computed afresh from <c>readings</c>, both ways
    /// round; with <paramref name="below"/>, from the raw readings older than it (the rollups' progress) only.
    /// Values must be multiples of 1/4, so sums are exact in any order and EXCEPT may compare doubles.
    /// </summary>
    public async Task<long> RollupMismatchesAsync(string table, string unit, DateTime? below = null)
    {
        var filter = below is { } w
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"WHERE ts < TIMESTAMP '{w:yyyy'-'MM'-'dd HH':'mm':'ss'.'ffffff}'")
            : "";
        var fresh = $"""
            SELECT device, metric, label, community, date_trunc('{unit}', ts), count(*), sum(value), min(value), max(value),
                   arg_max(value, ts), max(ts)
            FROM readings {filter} GROUP BY 1, 2, 3, 4, 5
            """;
        // A series-bucket may hold several appended states until compaction; folded, they must be the fresh fold.
        var stored = $"""
            SELECT device, metric, label, community, bucket, sum(n)::BIGINT, sum(sum_value), min(min_value), max(max_value),
                   arg_max(last_value, last_ts), max(last_ts)
            FROM {table} GROUP BY 1, 2, 3, 4, 5
            """;
        var rows = await SqlAsync($"SELECT (SELECT count(*) FROM ({fresh} EXCEPT {stored})) + (SELECT count(*) FROM ({stored} EXCEPT {fresh}))");
        return Convert.ToInt64(rows[0][0]);
    }

    public async Task<long> CountReadingsAsync() => Convert.ToInt64((await SqlAsync("SELECT count(*) FROM readings"))[0][0]);

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync().AsTask().Within();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is not worth failing a test over.
        }
    }
}

internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static Task Within(this Task task) => task.WaitAsync(Default);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Default);
}

internal static class Sample
{
    public static readonly DateTimeOffset Day = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    public static Reading Point(string device, string metric, DateTimeOffset time, double value,
        string community = "c1", string? label = null, string? grid = "g1", string? household = null, string? attributes = null) =>
        new(device, community, grid, household, metric, time, value, label, attributes);
}
