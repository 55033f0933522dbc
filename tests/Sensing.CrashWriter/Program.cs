using Microsoft.Extensions.Logging.Abstractions;
using Sensing.Ingest.Spool;
using Sensing.Storage;
using Sensing.Telemetry;

// Usage: dotnet Sensing.CrashWriter.dll duckdb <database file> <readings per batch>
//        dotnet Sensing.CrashWriter.dll spool <spool folder> <readings per batch>
// Writes batch 1, 2, 3, … until killed and prints "ack <n>" once batch n is durable (WriteAsync returned, or the
// spool append returned Appended), i.e. at the moment the service would acknowledge it to the broker.
// duckdb: each batch also redelivers the second half of the previous batch, so the reopened file must show rollups
// that counted every reading exactly once.
if (args.Length != 3 || args[0] is not ("duckdb" or "spool") || !int.TryParse(args[2], out var size) || size < 2)
{
    Console.Error.WriteLine("usage: duckdb|spool <database file or spool folder> <readings per batch (≥ 2)>");
    return 2;
}

var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

// Batch n holds meters 0..size-1 at minute n: every batch adds new keys to new minute buckets.
List<Reading> Batch(int n)
{
    var batch = new List<Reading>(size + size / 2);
    for (var i = 0; i < size; i++)
    {
        batch.Add(new Reading($"wm-{i:D4}", "c1", "g1", $"h-{i:D4}", Metrics.WaterConsumption, start.AddMinutes(n), n + i * 0.25));
    }
    return batch;
}

if (args[0] == "spool")
{
    using var spool = ReadingSpool.Open(new SpoolOptions { Directory = args[1], MaxBytes = 1L << 30, SegmentBytes = 256 * 1024 }, NullLogger.Instance);
    for (var n = 1; ; n++)
    {
        if (spool.TryAppend(new SpoolBatch(Batch(n), [])) != SpoolAppendResult.Appended)
        {
            Console.Error.WriteLine($"append {n} refused");
            return 1;
        }
        Console.WriteLine($"ack {n}");
        Console.Out.Flush();
    }
}

await using var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(args[1]));
List<Reading>? previous = null;
for (var n = 1; ; n++)
{
    var batch = Batch(n);
    var fresh = batch.Take(size).ToList();
    if (previous is not null)
    {
        batch.AddRange(previous.Skip(size / 2));
    }

    await store.WriteAsync(batch, CancellationToken.None);
    Console.WriteLine($"ack {n}");
    Console.Out.Flush();
    previous = fresh;
}
