using BenchmarkDotNet.Attributes;
using Sensing.Storage;

namespace Sensing.Benchmarks;

/// <summary>
/// <see cref="DuckDbReadingStore.WriteAsync"/> appending one batch of fresh meter registers (new keys every call)
/// to a DuckDB file in the temp folder. One op is one durable batch: appender into staging, the deduplicating
/// merge into <c>readings</c>, WAL sync. The table grows across the run as it would in service.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class DuckDbWriteBenchmarks
{
    private static readonly DateTimeOffset s_start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private DuckDbReadingStore _store = null!;
    private string _path = null!;
    private string[] _devices = null!;
    private string[] _households = null!;
    private List<Reading> _batch = null!;
    private int _round;

    [Params(1_000, 10_000)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"sensing-bench-{Guid.NewGuid():N}.duckdb");
        _store = DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(_path)).GetAwaiter().GetResult();
        _devices = new string[BatchSize];
        _households = new string[BatchSize];
        for (var i = 0; i < BatchSize; i++)
        {
            _devices[i] = $"wm-{i:D5}";
            _households[i] = $"h-{i:D5}";
        }
        _batch = new List<Reading>(BatchSize);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        File.Delete(_path);
        File.Delete(_path + ".wal");
    }

    [Benchmark]
    public Task WriteBatch()
    {
        // One register per meter per quarter hour: every call writes keys the store has not seen. Filling the
        // list is a few microseconds of struct copies, noise next to the write.
        var round = ++_round;
        var time = s_start.AddTicks(TimeSpan.TicksPerMinute * 15 * round);
        _batch.Clear();
        for (var i = 0; i < BatchSize; i++)
        {
            _batch.Add(new Reading(_devices[i], "c1", "g1", _households[i], Metrics.WaterTotal, time, 100 + i + round * 0.01));
        }
        return _store.WriteAsync(_batch, CancellationToken.None);
    }
}
