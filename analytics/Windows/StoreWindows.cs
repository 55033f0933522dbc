using System.Runtime.CompilerServices;
using Sensing.Telemetry;

namespace Sensing.Analytics.Windows;

/// <summary>
/// The store's hourly windows, which hourly detectors judge from: <see cref="IHourlyWindowStore"/> when the store
/// offers it (DuckDB), otherwise series by series through <see cref="IReadingStore.QueryAsync"/> for the devices the
/// registry knows (slower, and without the household of gate passes, which the generic query cannot tell apart).
/// </summary>
public sealed class StoreWindows(IReadingStore store, IDeviceRegistry registry)
{
    /// <summary>Every series of <paramref name="metrics"/> in [<paramref name="from"/>, <paramref name="to"/>), whole UTC hours, hour by hour.</summary>
    public IAsyncEnumerable<HourlySeries> ReadAsync(IReadOnlyList<string> metrics, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        store is IHourlyWindowStore windows
            ? windows.HourlyAsync(metrics, from, to, community: null, cancellationToken)
            : QueryDeviceByDeviceAsync(metrics, from, to, cancellationToken);

    public async Task<List<HourlySeries>> ReadListAsync(IReadOnlyList<string> metrics, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var list = new List<HourlySeries>();
        await foreach (var series in ReadAsync(metrics, from, to, cancellationToken).ConfigureAwait(false)) list.Add(series);
        return list;
    }

    private async IAsyncEnumerable<HourlySeries> QueryDeviceByDeviceAsync(
        IReadOnlyList<string> metrics, DateTimeOffset from, DateTimeOffset to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var found = new List<HourlySeries>();
        foreach (var device in registry.Devices)
        {
            foreach (var metric in metrics)
            {
                // Meters carry water and electricity; a gate's passes come without the household (see the class summary).
                var fits = metric.StartsWith("water.", StringComparison.Ordinal) || metric.StartsWith("electricity.", StringComparison.Ordinal)
                    ? device.Kind == DeviceKind.Meter
                    : metric.StartsWith(device.Kind.Name() + ".", StringComparison.Ordinal);
                if (!fits) continue;
                var sums = await store.QueryAsync(new ReadingQuery(metric, from, to, Device: device.Id, Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Sum, Limit: 100_000), cancellationToken).ConfigureAwait(false);
                if (sums.Count == 0) continue;
                var counts = await store.QueryAsync(new ReadingQuery(metric, from, to, Device: device.Id, Every: TimeSpan.FromHours(1), Aggregation: Aggregation.Count, Limit: 100_000), cancellationToken).ConfigureAwait(false);
                var countAt = counts.ToDictionary(c => c.Time.UtcTicks, c => (long)c.Value);
                foreach (var bucket in sums)
                {
                    var hour = bucket.Time.ToUniversalTime();
                    if (hour < from || hour >= to) continue;
                    found.Add(new HourlySeries(device.Id, metric, null, device.Kind == DeviceKind.Meter ? device.Household : null, device.Community, device.Grid,
                        hour, countAt.GetValueOrDefault(hour.UtcTicks, 1), bucket.Value, hour.AddHours(1).AddTicks(-1)));
                }
            }
        }
        found.Sort((a, b) => a.Hour != b.Hour ? a.Hour.CompareTo(b.Hour)
            : string.CompareOrdinal(a.Device, b.Device) is var d and not 0 ? d
            : string.CompareOrdinal(a.Metric, b.Metric));
        foreach (var series in found) yield return series;
    }
}

/// <summary>One complete event-time hour as the store holds it: every series of the metrics the hourly detectors need.</summary>
public sealed record HourWindow(DateTimeOffset Start, IReadOnlyList<HourlySeries> Series)
{
    public DateTimeOffset End => Start.AddHours(1);
}

/// <summary>Which households this analytics worker judges: those whose id hashes to it (FNV-1a, stable across processes).</summary>
public sealed class Partition(int workers, int worker)
{
    public static Partition Everything { get; } = new(1, 0);

    public bool Owns(string household)
    {
        if (workers == 1) return true;
        var hash = 2166136261u;
        foreach (var ch in household) hash = (hash ^ ch) * 16777619u;
        return hash % (uint)workers == (uint)worker;
    }
}
