using Sensing.Cockpit.Tiles;

namespace Sensing.Cockpit.Charts;

/// <summary>Gate passes of one hour; <see cref="Passes"/> is null for an hour after the newest gate data (unknown, not zero).</summary>
public sealed record GateFlowPoint(DateTimeOffset T, double? Passes);

/// <summary>The community's gate passes per hour, and the time of the newest gate data behind them.</summary>
public sealed record GateFlowSeries(DateTimeOffset? AsOf, double PeriodS, IReadOnlyList<GateFlowPoint> Points);

/// <summary>
/// One lot's hour: the mean of its free count and capacity over the hour, and the occupied share they give
/// (<c>(capacity − free) / capacity</c>). All null for an hour the counter did not report.
/// </summary>
public sealed record OccupancyPoint(DateTimeOffset T, double? Free, double? Capacity, double? Occupancy);

/// <summary>One parking lot counter's hours. <see cref="Lot"/> is its lot label (several labels of one counter joined by '+').</summary>
public sealed record LotSeries(string Lot, string Device, DateTimeOffset AsOf, double PeriodS, IReadOnlyList<OccupancyPoint> Points);

/// <summary><c>GET /api/charts</c>: the wall screen's two live charts over the last <see cref="Hours"/> hours, one point per UTC hour.</summary>
public sealed record CommunityCharts(
    string Community,
    DateTimeOffset From,
    DateTimeOffset To,
    int Hours,
    double EveryS,
    DateTimeOffset ComputedAt,
    GateFlowSeries GateFlow,
    IReadOnlyList<LotSeries> Parking);

/// <summary>
/// Computes the wall screen's charts from the store's hourly rollups: the window runs from the start of the hour
/// <c>hours − 1</c> hours ago to the end of the current hour, whole UTC hours at both ends, so DuckDB answers every
/// bucket from <c>readings_1h</c>, reading raw rows only for the last minute or so its rollups have not folded yet
/// (InfluxDB with <c>GROUP BY time(1h)</c>). The current hour is partial and grows as the wall screen refreshes.
/// Read like the tiles (<see cref="TileStoreReads"/>): within a few seconds, and not while the store is known not to
/// answer; the screen then keeps the charts it has.
/// </summary>
public sealed class ChartBoard(IReadingStore store, IDeviceRegistry registry, TileStoreReads storeReads, TimeProvider time)
{
    public static readonly TimeSpan Every = TimeSpan.FromHours(1);

    /// <summary>A community's lot counters are few; beyond this the chart would be unreadable from three metres anyway.</summary>
    public const int MaxLots = 12;

    /// <summary>The community's charts, or null when the store did not answer (<see cref="TileStoreReads.FailingSince"/> says since when).</summary>
    public async Task<CommunityCharts?> ComputeAsync(string community, int hours, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hours);
        var now = time.GetUtcNow();
        var currentHour = new DateTimeOffset(now.UtcTicks - now.UtcTicks % Every.Ticks, TimeSpan.Zero);
        var from = currentHour - Every * (hours - 1);
        var to = currentHour + Every;

        var (answered, charts) = await storeReads.TryAsync(async token =>
        {
            var gateFlow = await GateFlowAsync(community, from, to, hours, token);
            var parking = await ParkingAsync(community, from, to, hours, token);
            return new CommunityCharts(community, from, to, hours, Every.TotalSeconds, now, gateFlow, parking);
        }, $"the charts of {community}", cancellationToken);
        return answered ? charts : null;
    }

    private async Task<GateFlowSeries> GateFlowAsync(string community, DateTimeOffset from, DateTimeOffset to, int hours, CancellationToken cancellationToken)
    {
        // Each pass is one reading, so the count per hour is the number of passes (as on the gate-passes tile).
        var buckets = await store.QueryAsync(
            new ReadingQuery(Metrics.GatePass, from, to, Community: community, Every: Every, Aggregation: Aggregation.Count, Limit: hours + 1),
            cancellationToken);
        var byHour = buckets.ToDictionary(b => b.Time.UtcTicks, b => b.Value);

        DateTimeOffset? asOf = null;
        foreach (var gate in registry.DevicesIn(community).Where(d => d.Kind == DeviceKind.Gate))
        {
            if (registry.LastSeen(gate.Id) is { } seen && (asOf is null || seen > asOf)) asOf = seen;
        }
        // An hour without passes up to the newest gate data had none; an hour after it is unknown (an outage, or the
        // future part of the current hour), and a chart must not draw it as a quiet zero.
        var known = asOf ?? DateTimeOffset.MinValue;
        if (buckets.Count > 0 && buckets.Max(b => b.Time) is var lastBucket && lastBucket > known) known = lastBucket;

        var points = new List<GateFlowPoint>(hours);
        for (var hour = from; hour < to; hour += Every)
        {
            points.Add(new GateFlowPoint(hour, byHour.TryGetValue(hour.UtcTicks, out var passes) ? passes : hour <= known ? 0 : null));
        }
        return new GateFlowSeries(asOf, TileBoard.GatePeriod.TotalSeconds, points);
    }

    private async Task<IReadOnlyList<LotSeries>> ParkingAsync(string community, DateTimeOffset from, DateTimeOffset to, int hours, CancellationToken cancellationToken)
    {
        // A lot counter is one device whose free/capacity readings carry the lot as their label. The store answers per
        // device, so a counter with several lots is charted as one (its lots' counts averaged together).
        var counters = (await store.LatestAsync(community, Metrics.ParkingFree, cancellationToken))
            .GroupBy(l => l.Device, StringComparer.Ordinal)
            .Select(g => (Device: g.Key, Lot: string.Join('+', g.Select(l => l.Label ?? g.Key).Distinct(StringComparer.Ordinal)), AsOf: g.Max(l => l.Time)))
            .OrderBy(c => c.Lot, StringComparer.Ordinal)
            .Take(MaxLots)
            .ToList();

        var lots = new List<LotSeries>(counters.Count);
        foreach (var (device, lot, asOf) in counters)
        {
            var free = await HourlyMeanAsync(Metrics.ParkingFree, device, from, to, hours, cancellationToken);
            var capacity = await HourlyMeanAsync(Metrics.ParkingCapacity, device, from, to, hours, cancellationToken);
            var points = new List<OccupancyPoint>(hours);
            for (var hour = from; hour < to; hour += Every)
            {
                double? f = free.TryGetValue(hour.UtcTicks, out var fv) ? fv : null;
                double? c = capacity.TryGetValue(hour.UtcTicks, out var cv) ? cv : null;
                double? occupancy = f is { } ff && c is { } cc && cc > 0 ? Math.Clamp((cc - ff) / cc, 0, 1) : null;
                points.Add(new OccupancyPoint(hour, f, c, occupancy));
            }
            lots.Add(new LotSeries(lot, device, asOf, TileBoard.ParkingPeriod.TotalSeconds, points));
        }
        return lots;
    }

    private async Task<Dictionary<long, double>> HourlyMeanAsync(string metric, string device, DateTimeOffset from, DateTimeOffset to, int hours, CancellationToken cancellationToken) =>
        (await store.QueryAsync(new ReadingQuery(metric, from, to, Device: device, Every: Every, Aggregation: Aggregation.Mean, Limit: hours + 1), cancellationToken))
            .ToDictionary(b => b.Time.UtcTicks, b => b.Value);
}
