using Sensing.Storage;
using Sensing.Telemetry;

// Usage: dotnet Sensing.Storage.CrashWriter.dll <database file> <readings per batch>
// Writes batch 1, 2, 3, … until killed and prints "ack <n>" after WriteAsync of batch n returned, i.e. after the
// store has acknowledged it as durable. Each batch also redelivers the second half of the previous batch, so the
// reopened file must show rollups that counted every reading exactly once.
if (args.Length != 2 || !int.TryParse(args[1], out var size) || size < 2)
{
    Console.Error.WriteLine("usage: <database file> <readings per batch (≥ 2)>");
    return 2;
}

var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
await using var store = await DuckDbReadingStore.OpenAsync(new DuckDbStoreOptions(args[0]));
Console.Out.Flush();
List<Reading>? previous = null;
for (var n = 1; ; n++)
{
    // Batch n holds meters 0..size-1 at minute n: every batch adds new keys to new minute buckets.
    var batch = new List<Reading>(size + size / 2);
    for (var i = 0; i < size; i++)
    {
        batch.Add(new Reading($"wm-{i:D4}", "c1", "g1", $"h-{i:D4}", Metrics.WaterConsumption, start.AddMinutes(n), n + i * 0.25));
    }

    if (previous is not null)
    {
        batch.AddRange(previous.Skip(size / 2));
    }

    await store.WriteAsync(batch, CancellationToken.None);
    Console.WriteLine($"ack {n}");
    Console.Out.Flush();
    previous = batch.Take(size).ToList();
}
