using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sensing.Ingest.Pipeline;
using Sensing.Ingest.Spool;

namespace Sensing.Ingest.Tests;

/// <summary>
/// Erasing a household while its readings wait in the spool for a store that is down: they must never reach the
/// store, not after the store returns, and not after a restart in between. Real spool files, a real DuckDB file; the
/// outage is the store refusing writes (as a dead server does) while it still answers the erasure.
/// </summary>
public sealed class HouseholdErasureSpoolTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private static readonly HouseholdScope H1 = new("h-1", ["wm-1"]);

    private readonly string _spoolFolder = Path.Combine(Path.GetTempPath(), "sensing-erasure-spool", Guid.NewGuid().ToString("N"));
    private TempStore _temp = null!;

    public async Task InitializeAsync() => _temp = await TempStore.CreateAsync();

    public async Task DisposeAsync()
    {
        await _temp.DisposeAsync();
        try { Directory.Delete(_spoolFolder, recursive: true); } catch (IOException) { }
    }

    private SpoolOptions SpoolOptions() => new() { Directory = _spoolFolder, StoreTimeoutMilliseconds = 200 };

    private static List<Reading> Batch(int n) =>
    [
        new("wm-1", "c1", "g1", "h-1", Metrics.WaterTotal, T0.AddMinutes(n), 10 + n),
        new("gate-1", "c1", "g1", "h-1", Metrics.GatePass, T0.AddMinutes(n).AddSeconds(1), 1, "in"),
        new("wm-2", "c1", "g1", "h-2", Metrics.WaterTotal, T0.AddMinutes(n), 20 + n),
    ];

    private static List<DeadLetter> Letters(int n) =>
    [
        new($"sensing/c1/meter/wm-1", Encoding.UTF8.GetBytes("""{"total":"x"}"""), 13, T0.AddMinutes(n), "meter: field 'total' must be a number", "native"),
        new($"sensing/c1/meter/wm-2", Encoding.UTF8.GetBytes("""{"total":"y"}"""), 13, T0.AddMinutes(n), "meter: field 'total' must be a number", "native"),
    ];

    private StoreWriter NewWriter(IReadingStore store) =>
        new(store, [], new IngestMetrics(new IngestQueue(10)), Options.Create(SpoolOptions()), TimeProvider.System, NullLogger<StoreWriter>.Instance);

    [Fact]
    public async Task Readings_spooled_before_the_erasure_never_reach_the_store_even_across_a_restart()
    {
        var store = new OutageStore(_temp.Store);
        var writer = NewWriter(store);
        await writer.StartAsync(CancellationToken.None).Within();

        // Before the outage: straight into the store.
        await writer.AcceptAsync(Batch(0), [], CancellationToken.None).Within();
        Assert.Equal(0, writer.SpoolDepth);

        // The store goes down: three batches wait in the spool.
        store.Down = true;
        for (var n = 1; n <= 3; n++) await writer.AcceptAsync(Batch(n), Letters(n), CancellationToken.None).Within();
        Assert.Equal(3, writer.SpoolDepth);

        var (spooled, erased) = await writer.EraseHouseholdAsync(H1, ct => _temp.Store.EraseHouseholdAsync(H1, ct), CancellationToken.None).Within();
        Assert.Equal(6, spooled); // wm-1's register and h-1's gate pass in each of the three spooled batches
        Assert.Equal(new HouseholdErasure(2, 0, 0), erased); // what the store had from before the outage
        Assert.True(File.Exists(Path.Combine(_spoolFolder, "erasures")), "the erasure must be on disk before the call returns");

        // Readings after the erasure are new data, not erased (the device would have to be re-provisioned to stop them).
        await writer.AcceptAsync([new("wm-1", "c1", "g1", "h-1", Metrics.WaterTotal, T0.AddMinutes(10), 99)], [], CancellationToken.None).Within();

        // Restart while the store is still down: the spool and its erasure list are all that carries the erasure.
        await writer.StopAsync(CancellationToken.None).Within();
        writer.Dispose();
        store.Down = false;
        writer = NewWriter(store);
        try
        {
            await writer.StartAsync(CancellationToken.None).Within();
            await TestTimeouts.Until(() => Task.FromResult(writer.SpoolDepth == 0), "the spool to drain");
        }
        finally
        {
            await writer.StopAsync(CancellationToken.None).Within();
            writer.Dispose();
        }

        var h1 = await _temp.Store.HouseholdReadingsAsync(H1, CancellationToken.None).ToListAsync().AsTask().Within();
        Assert.Equal([99.0], h1.Select(r => r.Value)); // only the reading that came after the erasure
        Assert.Equal([20.0, 21.0, 22.0, 23.0], (await _temp.RawAsync("wm-2", Metrics.WaterTotal)).Select(b => b.Value));
        var letters = await _temp.Store.DeadLettersAsync(null, 100, CancellationToken.None).Within();
        Assert.Equal(3, letters.Count);
        Assert.All(letters, l => Assert.EndsWith("/wm-2", l.Topic, StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(_spoolFolder, "erasures")), "the erasure list goes once every batch it covers is drained");
    }

    [Fact]
    public void The_erasure_list_filters_only_batches_appended_before_it_and_is_read_back_after_a_crash()
    {
        using (var spool = ReadingSpool.Open(SpoolOptions(), NullLogger.Instance))
        {
            Assert.Equal(SpoolAppendResult.Appended, spool.TryAppend(new SpoolBatch(Batch(1), Letters(1))));
            Assert.Equal(SpoolAppendResult.Appended, spool.TryAppend(new SpoolBatch(Batch(2), [])));
            Assert.Equal(4, spool.MarkErased(H1));
            Assert.Equal(SpoolAppendResult.Appended, spool.TryAppend(new SpoolBatch(Batch(3), [])));
            // No drain, no orderly close beyond the file handles: as after a kill.
        }

        using var reopened = ReadingSpool.Open(SpoolOptions(), NullLogger.Instance);
        var drained = new List<SpoolBatch>();
        while (reopened.TryPeek(out var entry, out var batch))
        {
            drained.Add(batch!);
            reopened.Commit(entry);
        }
        Assert.Equal(3, drained.Count);
        Assert.All(drained[..2], b => Assert.All(b.Readings, r => Assert.Equal("h-2", r.Household)));
        Assert.Equal(["sensing/c1/meter/wm-2"], drained[0].DeadLetters.Select(d => d.Topic));
        Assert.Equal(Batch(3), drained[2].Readings);
        Assert.Equal(0, reopened.MarkErased(H1)); // nothing spooled any more: nothing to mark
        Assert.False(File.Exists(Path.Combine(_spoolFolder, "erasures")));
    }

    /// <summary>The real store, refusing writes while <see cref="Down"/> as a store that is gone would.</summary>
    private sealed class OutageStore(IReadingStore inner) : ForwardingStore(inner)
    {
        public volatile bool Down;

        public override Task WriteAsync(IReadOnlyList<Reading> readings, CancellationToken cancellationToken) =>
            Down ? throw new IOException("store unavailable") : Inner.WriteAsync(readings, cancellationToken);

        public override Task WriteDeadLettersAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken) =>
            Down ? throw new IOException("store unavailable") : Inner.WriteDeadLettersAsync(deadLetters, cancellationToken);
    }
}
