using BenchmarkDotNet.Attributes;
using DuckDB.NET.Data;
using Sensing.Storage;

namespace Sensing.Benchmarks;

/// <summary>
/// The analytics' question: 30 days of hourly water consumption for one household, in a file holding a month of a
/// street office: 2,000 household meters, one reading each per 15 minutes (5.76 M raw rows). One op is one
/// <see cref="DuckDbReadingStore.QueryAsync(ReadingQuery, CancellationToken)"/> answered from <c>readings_1h</c>,
/// or the same query forced onto the raw rows (the store's reference path).
/// <para>
/// The file is built once per machine in the temp folder and reused by later runs (BenchmarkDotNet runs each case in
/// its own process): raw rows by one INSERT … SELECT from <c>range()</c>, in time order as ingest writes them, then
/// the rollups by the store's own backfill when it opens the file.
/// </para>
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class DuckDbQueryBenchmarks
{
    private const int Households = 2_000;
    private const int Days = 30;
    private static readonly DateTimeOffset s_start = new(2026, 10, 25, 0, 0, 0, TimeSpan.Zero);
    private static readonly string s_path = Path.Combine(Path.GetTempPath(), $"sensing-bench-query-{Households}x{Days}d-v2.duckdb");

    private DuckDbReadingStore _store = null!;
    private ReadingQuery _query = null!;

    [GlobalSetup]
    public void Setup()
    {
        if (!File.Exists(s_path))
        {
            Build();
        }

        _store = DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(s_path)).GetAwaiter().GetResult();
        // A household in the middle of the device range, so no scan gets lucky on the first row groups.
        _query = new ReadingQuery(Metrics.WaterConsumption, s_start, s_start.AddDays(Days), Device: "wm-1234",
            Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Sum, Limit: 100_000);
        var rollup = _store.QueryAsync(_query, CancellationToken.None).GetAwaiter().GetResult();
        var raw = _store.QueryAsync(_query, useRollups: false, CancellationToken.None).GetAwaiter().GetResult();
        if (rollup.Count != Days * 24 || !rollup.SequenceEqual(raw))
        {
            throw new InvalidOperationException($"The benchmark file disagrees with itself: {rollup.Count} rollup buckets, {raw.Count} raw.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _store.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true)]
    public Task<IReadOnlyList<Bucket>> HouseholdMonthFromRaw() => _store.QueryAsync(_query, useRollups: false, CancellationToken.None);

    [Benchmark]
    public Task<IReadOnlyList<Bucket>> HouseholdMonthFromRollups() => _store.QueryAsync(_query, CancellationToken.None);

    private static void Build()
    {
        var building = s_path + ".building";
        File.Delete(building);
        File.Delete(building + ".wal");
        // The store creates the schema; the bulk rows go in while it is closed, and reopening it builds the rollups.
        DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(building)).GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
        using (var connection = new DuckDBConnection(new DuckDBConnectionStringBuilder { DataSource = building }.ConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // Slots of 15 minutes outermost: the table is in time order, as ingest appends it. Values are quarter
            // litres varying by household and slot.
            command.CommandText = $"""
                INSERT INTO readings (device, metric, label, ts, value, community, grid, household, attributes)
                SELECT 'wm-' || lpad(h::VARCHAR, 4, '0'), '{Metrics.WaterConsumption}', '',
                       $start + to_minutes(15 * k), ((h * 7 + k * 3) % 29) * 0.25,
                       'c1', 'g' || (h % 40)::VARCHAR, 'h-' || lpad(h::VARCHAR, 4, '0'), NULL
                FROM range({Days * 96}) AS slots(k), range({Households}) AS homes(h)
                ORDER BY k, h
                """;
            command.Parameters.Add(new DuckDBParameter("start", s_start.UtcDateTime));
            command.ExecuteNonQuery();
        }

        DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(building)).GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
        File.Move(building, s_path);
        if (File.Exists(building + ".wal"))
        {
            File.Move(building + ".wal", s_path + ".wal");
        }
    }
}
