namespace Sensing.Storage.Tests;

/// <summary>
/// kill -9 during writes: a child process (tests/Sensing.CrashWriter, mode duckdb) writes batches and prints "ack n" after
/// each WriteAsync returns; it is killed mid-stream, and every batch it acknowledged must be in the reopened file,
/// with rollups that still equal the raw rows.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CrashSafetyTests : IDisposable
{
    private const int BatchSize = 500;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sensing-storage-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is not worth failing a test over.
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(25)]
    public async Task Every_acknowledged_batch_survives_a_sigkill_mid_stream(int killAfterAcks)
    {
        var path = Path.Combine(_folder, "crash.duckdb");
        var acknowledged = await Sensing.Testing.CrashWriterProcess.RunAndKillAsync("duckdb", path, BatchSize, killAfterAcks);

        await using var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(path)).Within();

        // Batch n wrote one reading per meter at minute n; batches after the last ack may or may not be there, whole.
        var perMinute = await SqlAsync(store, "SELECT minute(ts) + 60 * hour(ts), count(*) FROM readings GROUP BY 1 ORDER BY 1");
        var counts = perMinute.ToDictionary(r => Convert.ToInt32(r[0]), r => Convert.ToInt64(r[1]));
        for (var n = 1; n <= acknowledged; n++)
        {
            Assert.True(counts.TryGetValue(n, out var count) && count == BatchSize, $"Acknowledged batch {n} is missing or partial ({count} rows).");
        }

        Assert.All(counts.Values, count => Assert.Equal(BatchSize, count));
        Assert.InRange(counts.Count, acknowledged, acknowledged + 1);

        // Redelivered halves were not counted twice, and nothing half-written reached a rollup.
        var check = await SqlAsync(store, """
            SELECT (SELECT count(*) FROM readings), (SELECT CAST(sum(n) AS BIGINT) FROM readings_1m), (SELECT CAST(sum(n) AS BIGINT) FROM readings_1h),
                   (SELECT sum(value) FROM readings), (SELECT sum(sum_value) FROM readings_1m)
            """);
        var raw = Convert.ToInt64(check[0][0]);
        Assert.Equal(raw, Convert.ToInt64(check[0][1]));
        Assert.Equal(raw, Convert.ToInt64(check[0][2]));
        Assert.Equal(Convert.ToDouble(check[0][3]), Convert.ToDouble(check[0][4]));
    }

    /// <summary>Test-only SQL on the reopened store's database instance.</summary>
    private static async Task<List<object?[]>> SqlAsync(DuckDbReadingStore store, string sql)
    {
        await using var connection = new DuckDB.NET.Data.DuckDBConnection(
            new DuckDB.NET.Data.DuckDBConnectionStringBuilder { DataSource = store.FilePath }.ConnectionString);
        connection.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var rows = new List<object?[]>();
        await using var reader = await command.ExecuteReaderAsync().Within();
        while (await reader.ReadAsync().Within())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            rows.Add(row);
        }

        return rows;
    }
}
