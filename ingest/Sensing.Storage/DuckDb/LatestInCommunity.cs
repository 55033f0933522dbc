using System.Collections.Concurrent;
using Sensing.Telemetry;

namespace Sensing.Storage;

/// <summary>
/// The newest reading per device and label of the (community, metric) pairs that have been asked for, kept up to date
/// from the store's own writes, so <see cref="DuckDbReadingStore.LatestAsync"/> answers from memory instead of scanning
/// the metric's whole raw history in the community.
/// <para>
/// Why: every wall screen asks for its community's camera and parking figures every 2 s, and the scan's cost grows
/// with the history kept (30 days of raw readings by default, tens of millions of rows for a street office), on the
/// same cores as ingest. A pair costs one scan when first asked for; after that, a write adds its readings of the
/// pairs asked for (a dictionary lookup per reading otherwise).
/// </para>
/// <para>
/// Exact for DuckDB because this process is the file's only writer and every insert of raw readings goes through
/// <see cref="Observe"/> after its commit. Deletes (retention, erasure) <see cref="Clear"/> it all, and the next ask
/// scans again. Bounded by the pairs asked for: a few hundred devices per watched community and metric.
/// </para>
/// </summary>
internal sealed class LatestInCommunity
{
    private ConcurrentDictionary<(string Community, string Metric), Pair> _pairs = new();

    /// <summary>
    /// The pair's newest readings, sorted by device and label as the scan sorts them. <paramref name="scan"/> reads them
    /// from the file when the pair is not known yet; the pair is registered before it runs, so a write committed while it
    /// runs is in the scan's snapshot, in the pair, or in both (the newer time wins either way).
    /// </summary>
    public async Task<IReadOnlyList<LatestReading>> GetAsync(string community, string metric,
        Func<CancellationToken, Task<IReadOnlyList<LatestReading>>> scan, CancellationToken cancellationToken)
    {
        var pairs = _pairs;
        var pair = pairs.GetOrAdd((community, metric), static _ => new Pair());
        if (!pair.Seeded)
        {
            await pair.Seeding.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!pair.Seeded)
                {
                    var scanned = await scan(cancellationToken).ConfigureAwait(false);
                    lock (pair)
                    {
                        // On equal times the file's row wins: it is the one that was stored first.
                        foreach (var r in scanned) pair.Offer(r.Device, r.Label ?? string.Empty, r.Time, r.Value, replaceEqual: true);
                        pair.Seeded = true;
                    }
                }
            }
            finally
            {
                pair.Seeding.Release();
            }
        }

        lock (pair)
        {
            var latest = new List<LatestReading>(pair.Newest.Count);
            foreach (var ((device, label), (time, value)) in pair.Newest)
            {
                latest.Add(new LatestReading(device, metric, label.Length == 0 ? null : label, time, value));
            }
            latest.Sort(static (a, b) =>
            {
                var byDevice = string.CompareOrdinal(a.Device, b.Device);
                return byDevice != 0 ? byDevice : string.CompareOrdinal(a.Label ?? string.Empty, b.Label ?? string.Empty);
            });
            return latest;
        }
    }

    /// <summary>
    /// Takes a committed batch (called under the store's writer lock, after COMMIT). Readings the write dropped as
    /// duplicates carry a time already held, so they change nothing: only a strictly newer time replaces.
    /// </summary>
    public void Observe(IReadOnlyList<Reading> readings)
    {
        var pairs = _pairs;
        if (pairs.IsEmpty) return;
        // One lookup per reading (tens of ns against a write's tens of ms): no second index of metrics to keep in step.
        for (var i = 0; i < readings.Count; i++)
        {
            var r = readings[i];
            if (!pairs.TryGetValue((r.Community, r.Metric), out var pair)) continue;
            lock (pair) pair.Offer(r.Device, r.Label ?? string.Empty, r.Time, r.Value, replaceEqual: false);
        }
    }

    /// <summary>Forgets every pair (called under the writer lock by deletes): the next ask scans the file again.</summary>
    public void Clear() => _pairs = new();

    private sealed class Pair
    {
        public readonly SemaphoreSlim Seeding = new(1, 1);
        public readonly Dictionary<(string Device, string Label), (DateTimeOffset Time, double Value)> Newest = new();
        public volatile bool Seeded;

        public void Offer(string device, string label, DateTimeOffset time, double value, bool replaceEqual)
        {
            if (Newest.TryGetValue((device, label), out var held) && (held.Time > time || (held.Time == time && !replaceEqual))) return;
            Newest[(device, label)] = (time, value);
        }
    }
}
