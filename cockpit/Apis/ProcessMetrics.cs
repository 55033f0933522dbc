using Microsoft.Extensions.Options;
using Sensing.Storage;

namespace Sensing.Cockpit.Apis;

/// <summary>
/// The process's own figures for <c>/metrics</c>: resident memory, threads, open handles, the managed heap, collections
/// and the time they paused the process, and the DuckDB file's size. What a long run (the soak benchmark, or production
/// over weeks) needs to tell a leak from a working set: each should level off while readings keep arriving. Names
/// follow Prometheus' process and .NET conventions, so existing dashboards recognise them. Linux figures come from
/// <c>/proc/self</c>; elsewhere the <see cref="System.Diagnostics.Process"/> equivalents.
/// </summary>
public sealed class ProcessMetrics(IOptions<StoreOptions> store, IServiceProvider services) : IMetricsSource
{
    private readonly string? _duckDbPath = string.Equals(store.Value.Kind?.Trim(), StoreOptions.DuckDbKind, StringComparison.OrdinalIgnoreCase)
        ? Path.GetFullPath(store.Value.Path)
        : null;

    public void Collect(ICollection<MetricSample> samples)
    {
        var (rss, threads) = ProcStatus();
        samples.Add(new("process_resident_memory_bytes", "Resident set size of the service process.", "gauge", rss));
        samples.Add(new("process_threads", "Operating-system threads of the service process.", "gauge", threads));
        samples.Add(new("process_open_handles", "Open file descriptors (sockets, files) of the service process.", "gauge", OpenHandles()));
        var gc = GC.GetGCMemoryInfo();
        samples.Add(new("dotnet_gc_heap_size_bytes", "Managed heap size after the last collection.", "gauge", gc.HeapSizeBytes));
        samples.Add(new("dotnet_gc_committed_bytes", "Memory committed by the garbage collector.", "gauge", gc.TotalCommittedBytes));
        samples.Add(new("dotnet_gc_collections_total", "Garbage collections since start, by generation.", "counter", GC.CollectionCount(0), "generation=\"0\""));
        samples.Add(new("dotnet_gc_collections_total", "Garbage collections since start, by generation.", "counter", GC.CollectionCount(1), "generation=\"1\""));
        samples.Add(new("dotnet_gc_collections_total", "Garbage collections since start, by generation.", "counter", GC.CollectionCount(2), "generation=\"2\""));
        samples.Add(new("dotnet_total_allocated_bytes", "Managed bytes allocated since start.", "counter", GC.GetTotalAllocatedBytes()));
        // Every thread waits while the GC pauses them, ingest's and the alerts' too: a rise of seconds between two scrapes
        // says a stall was the collector's, not the store's or the broker's.
        samples.Add(new("dotnet_gc_pause_seconds_total", "Time the garbage collector paused the process since start.", "counter", GC.GetTotalPauseDuration().TotalSeconds));
        var full = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        if (full.Index > 0)
        {
            samples.Add(new("dotnet_gc_last_full_blocking_pause_seconds", "Pause of the latest full blocking (compacting or not) collection.", "gauge", full.PauseDurations[0].TotalSeconds));
        }
        if (_duckDbPath is not null)
        {
            samples.Add(new("sensing_store_file_bytes", "Size of the DuckDB file and its write-ahead log.", "gauge", FileSize(_duckDbPath) + FileSize(_duckDbPath + ".wal")));
            if (services.GetService<DuckDbReadingStore>() is { } duckDb)
            {
                var (checkedBatches, uncheckedBatches) = duckDb.DuplicateChecks;
                const string help = "Readings batches written to DuckDB, by whether they were checked against the stored rows for duplicates (no: every reading newer than its series' stored ones).";
                samples.Add(new("sensing_duckdb_batches_total", help, "counter", checkedBatches, "duplicate_check=\"yes\""));
                samples.Add(new("sensing_duckdb_batches_total", help, "counter", uncheckedBatches, "duplicate_check=\"no\""));
                samples.Add(new("sensing_duckdb_batches_appended_directly_total",
                    "Of the unchecked batches, those appended straight into the readings table (no key twice in the batch, no reading late for the rollups).",
                    "counter", duckDb.BatchesAppendedDirectly));
            }
            // DuckDB's figures come from a query, which waits behind a long write or a retention pass: a scrape takes
            // the last figures at once and asks for fresh ones in the background, at most every 5 s.
            RefreshDuckDbMemory();
            if (Volatile.Read(ref _duckDbMemory) is { } memory)
            {
                foreach (var (tag, bytes) in memory.Tags)
                {
                    samples.Add(new("sensing_duckdb_memory_bytes", "DuckDB's own memory by component (duckdb_memory()).", "gauge", bytes, $"tag=\"{tag.ToLowerInvariant()}\""));
                }
                samples.Add(new("sensing_duckdb_memory_limit_bytes", "DuckDB's memory_limit (Store:MemoryLimit; DuckDB's default is 80 % of RAM).", "gauge", memory.Limit));
            }
        }
    }

    private sealed record DuckDbMemory(IReadOnlyList<(string Tag, long Bytes)> Tags, long Limit);

    private readonly Lock _refreshLock = new();
    private DuckDbMemory? _duckDbMemory;
    private Task? _refreshing;
    private long _refreshedAt = -1_000_000; // long.MinValue would overflow the age check

    private void RefreshDuckDbMemory()
    {
        lock (_refreshLock)
        {
            if (_refreshing is { IsCompleted: false } || Environment.TickCount64 - _refreshedAt < 5_000) return;
            _refreshedAt = Environment.TickCount64;
            _refreshing = Task.Run(() =>
            {
                try
                {
                    var (tags, limit) = services.GetRequiredService<DuckDbReadingStore>().MemoryUsage();
                    Volatile.Write(ref _duckDbMemory, new DuckDbMemory(tags, limit));
                }
                catch (Exception ex) when (ex is System.Data.Common.DbException or ObjectDisposedException or InvalidOperationException)
                {
                    // A store closing or failing is reported by /healthz; the other figures still count.
                }
            });
        }
    }

    private static (double Rss, double Threads) ProcStatus()
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                double rss = 0, threads = 0;
                foreach (var line in File.ReadLines("/proc/self/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kilobytes(line) * 1024;
                    else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = Kilobytes(line);
                }
                return (rss, threads);
            }
            catch (IOException)
            {
            }
        }
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return (self.WorkingSet64, self.Threads.Count);

        static double Kilobytes(string line) =>
            double.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim().ToString().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static double OpenHandles()
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
            }
            catch (IOException)
            {
            }
        }
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.HandleCount;
    }

    private static double FileSize(string path)
    {
        try
        {
            return new FileInfo(path) is { Exists: true } file ? file.Length : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
