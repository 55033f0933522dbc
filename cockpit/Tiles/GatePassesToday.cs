using Sensing.Telemetry;

namespace Sensing.Cockpit.Tiles;

/// <summary>
/// Today's gate passes of every community, counted in one store query and shared by the wall screens for
/// <see cref="CountEvery"/>. Each screen refreshes its tiles every 2 s; counted per community, forty screens of a street
/// office asked the store for twenty scans a second of the day's newest raw readings, a third of a core at 20,000
/// msg/s, on the cores ingest needs (benchmarks/README.md). Counted together, that is one scan a second whatever the
/// number of screens, and a figure at most <see cref="CountEvery"/> older than the tiles around it.
/// </summary>
public sealed class GatePassesToday(IReadingStore store, TimeProvider time)
{
    /// <summary>How long one count serves every screen.</summary>
    public static readonly TimeSpan CountEvery = TimeSpan.FromSeconds(1);

    /// <summary>Passes stamped this far ahead of the clock still count: gates' clocks drift a little.</summary>
    public static readonly TimeSpan Ahead = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _counting = new(1, 1);
    private Count? _last;

    /// <summary>The community's gate passes from <paramref name="midnight"/> (its local midnight, as UTC) until now.</summary>
    public async Task<long> InCommunityAsync(string community, DateTimeOffset midnight, CancellationToken cancellationToken)
    {
        if (Current(midnight) is { } current) return current.Get(community);
        await _counting.WaitAsync(cancellationToken);
        try
        {
            // Whoever waited here while another screen counted takes that count.
            if (Current(midnight) is { } counted) return counted.Get(community);
            var now = time.GetUtcNow();
            var counts = await store.CountPerCommunityAsync(Metrics.GatePass, midnight, now + Ahead, cancellationToken);
            var fresh = new Count(midnight, now, counts);
            Volatile.Write(ref _last, fresh);
            return fresh.Get(community);
        }
        finally
        {
            _counting.Release();
        }
    }

    private Count? Current(DateTimeOffset midnight) =>
        Volatile.Read(ref _last) is { } last && last.Midnight == midnight && time.GetUtcNow() - last.At < CountEvery ? last : null;

    private sealed record Count(DateTimeOffset Midnight, DateTimeOffset At, IReadOnlyDictionary<string, long> ByCommunity)
    {
        public long Get(string community) => ByCommunity.TryGetValue(community, out var n) ? n : 0;
    }
}
